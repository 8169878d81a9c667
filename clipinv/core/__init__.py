"""The method: the recipe, the image parameterisations, augmentations and objective, the inversion loop,
its cache, and reading images back into words. By the floor plan (tests/test_structure.py) it imports
nothing from the models, worlds, analyses, book or runs."""
