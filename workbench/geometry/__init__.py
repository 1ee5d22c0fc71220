"""Geometry of latent spaces: neighbours, intrinsic dimension, relative views, directions."""
