"""One exception type for everything a user can get wrong.

Its message is a single line that says what is wrong and how to fix it; the CLI prints it
without a traceback and exits 2.
"""


class ClipinvError(ValueError):
    """A bad input or an unusable environment, explained in one line."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
