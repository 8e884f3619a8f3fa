"""Model builders, one per task of the paper (IMDB sentiment, summation, moving-MNIST frames)."""
