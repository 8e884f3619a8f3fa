"""Data: IMDB reviews, the text pipeline, summation problems, moving MNIST, train/validation/test splits."""
