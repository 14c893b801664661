"""GAN variants, one module each, on the game and task layers.

- `adversarial.AdversarialModel`: the game layer, any number of players;
- `noise_to_image.NoiseToImage`: the task layer of GANs from noise;
- `image_to_image.ImageToImage`, `image_to_image.PairedImageToImage`: the
  task layers of translators between domains, from unpaired collections and
  from aligned pairs;
- `gan`, `dcgan`, `vanilla`, `conditional`, `wgan`, `wgan_gp`, `sngan`,
  `progan`, `cyclegan`, `pix2pix`: the variants, which build their players from
  `keras_gans.networks`.
"""

from keras_gans import schedules  # registers the learning-rate schedules for loading
from keras_gans.models.adversarial import AdversarialModel
from keras_gans.models.conditional import ConditionalGAN
from keras_gans.models.cyclegan import CycleGAN
from keras_gans.models.dcgan import DCGAN
from keras_gans.models.gan import GAN
from keras_gans.models.image_to_image import ImageToImage, PairedImageToImage
from keras_gans.models.noise_to_image import NoiseToImage
from keras_gans.models.pix2pix import Pix2Pix
from keras_gans.models.progan import ProGAN
from keras_gans.models.sngan import SNGAN
from keras_gans.models.vanilla import VanillaGAN
from keras_gans.models.wgan import WGAN, CriticGame
from keras_gans.models.wgan_gp import WGANGP

# Names used by the command line and the pretrained zoo.
VARIANTS = {
    "vanilla": VanillaGAN,
    "dcgan": DCGAN,
    "cgan": ConditionalGAN,
    "wgan": WGAN,
    "wgan-gp": WGANGP,
    "sngan": SNGAN,
    "progan": ProGAN,
    "cyclegan": CycleGAN,
    "pix2pix": Pix2Pix,
}


def get_variant(name):
    """Returns the model class of a variant name such as `"wgan-gp"`."""
    if name not in VARIANTS:
        raise ValueError(f"Unknown variant {name!r}. Known variants: {sorted(VARIANTS)}.")
    return VARIANTS[name]
