"""The method: the recipe, the image parameterisations, augmentations and objective, the inversion loop,
its cache, and reading images back into words. Imports nothing from the book, runs, analyses or worlds."""
