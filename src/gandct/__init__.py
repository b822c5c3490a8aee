"""gandct: tell GAN-generated images from real photographs by their DCT spectra."""

__version__ = "0.1.0"
