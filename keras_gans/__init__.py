"""keras-gans: generative adversarial networks that train with `model.fit`."""

from keras_gans import augment, callbacks, data, losses, plotting
from keras_gans.models import (
    DCGAN,
    GAN,
    VARIANTS,
    WGAN,
    WGANGP,
    AdversarialModel,
    ConditionalGAN,
    NoiseToImage,
    VanillaGAN,
    get_variant,
)
from keras_gans.pretrained import list_pretrained, load_pretrained
from keras_gans.saving import export_generator, load_gan, load_generator

__version__ = "0.1.0"
