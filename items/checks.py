"""Start-up checks of the items track: every kind of lock holder has an expiry closer."""

from django.core import checks


@checks.register()
def expiry_closers_registered(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from items.services.expiry import holder_kinds_without_closer  # after every app's ready() has registered

    return [
        checks.Error(
            f"Items locked by a {kind.name!r} holder have no expiry closer: the expiry sweep could not end them",
            hint="Register one with items.services.holder_expiry_register in the holder app's AppConfig.ready().",
            id="items.E001",
        )
        for kind in holder_kinds_without_closer()
    ]
