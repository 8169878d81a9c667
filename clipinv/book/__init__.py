"""The book: the runner that executes sections into pages, the section helper, figures, playable
static figures and the live explorer."""
