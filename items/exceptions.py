from core.errors import Conflict, InvalidInput, NotFound


class ItemNotFound(NotFound):
    code = "item_not_found"
    default_message = "No such item."


class ItemNotAvailable(Conflict):
    code = "item_not_available"
    default_message = "The item is not in a state that allows this."


class InvalidItem(InvalidInput):
    code = "invalid_item"
    default_message = "The item is not valid."
