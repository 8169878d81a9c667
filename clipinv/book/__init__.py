"""The book: the runner that executes sections into pages and builds the site, the `Section` a notebook
sets itself up with, figures, playable static figures, the live explorer and its server, `--plan`
(what a build would compute and cost), and what an executed page says about itself."""
