from django.dispatch import Signal

# Sent after a grant was refused for being over an issuance limit (nothing was posted), with
# `actor_id`, `asset_code`, `amount` and `details`. Operations turns it into an alert.
issuance_refused = Signal()
