"""Generators and discriminators, one module per family, each usable on its own.

Every network is a `keras.Model` subclass built from its constructor
arguments, which `get_config` returns, so it saves in a `.keras` file and
loads back (as in keras-hub's backbones). The variants in `keras_gans.models`
build their players from these classes; pass one of them, or any
`keras.Model`, as a variant's `generator` or `discriminator` instead.

- `mlp`: `MLPGenerator`, `MLPDiscriminator` (the original GAN; `VanillaGAN`);
- `dcgan`: `DCGANGenerator`, `DCGANDiscriminator`, unconditional or taking
  labels (`DCGAN`, `ConditionalGAN`, `WGAN`, `WGANGP`);
- `sngan`: `SNGANGenerator`, `SNGANDiscriminator` (the projection
  discriminator with `num_classes`) and their residual blocks (`SNGAN`);
- `progan`: `ProgressiveGenerator`, `ProgressiveDiscriminator`, the growing
  networks (`ProGAN`);
- `cyclegan`: `CycleGANGenerator` (ResNet), `PatchGANDiscriminator` (`CycleGAN`);
- `pix2pix`: `UNetGenerator`, `ConditionalPatchGAN`, which judges (source,
  target) pairs (`Pix2Pix`).

Example:

```python
discriminator = keras_gans.networks.SNGANDiscriminator(image_shape=(32, 32, 3), width=64)
gan = keras_gans.GAN(keras_gans.networks.SNGANGenerator((32, 32, 3)), discriminator)
discriminator.save("critic.keras")
keras.saving.load_model("critic.keras")
```
"""

from keras_gans.networks.base import Network
from keras_gans.networks.cyclegan import CycleGANGenerator, PatchGANDiscriminator
from keras_gans.networks.dcgan import DCGANDiscriminator, DCGANGenerator
from keras_gans.networks.mlp import MLPDiscriminator, MLPGenerator
from keras_gans.networks.pix2pix import ConditionalPatchGAN, UNetGenerator
from keras_gans.networks.progan import ProgressiveDiscriminator, ProgressiveGenerator
from keras_gans.networks.sngan import (
    ConditionalBatchNormalization,
    DiscriminatorBlock,
    GeneratorBlock,
    OptimizedDiscriminatorBlock,
    SNGANDiscriminator,
    SNGANGenerator,
)

__all__ = [
    "ConditionalBatchNormalization",
    "ConditionalPatchGAN",
    "CycleGANGenerator",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "DiscriminatorBlock",
    "GeneratorBlock",
    "MLPDiscriminator",
    "MLPGenerator",
    "Network",
    "OptimizedDiscriminatorBlock",
    "PatchGANDiscriminator",
    "ProgressiveDiscriminator",
    "ProgressiveGenerator",
    "SNGANDiscriminator",
    "SNGANGenerator",
    "UNetGenerator",
]
