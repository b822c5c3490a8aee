"""Detector architectures: plain builder functions returning Functional `keras.Model`s.

Every detector maps one input (a z-scored log-DCT spectrum, pixels in [-1, 1], or a baseline's spectral
features) to one logit, then
`Activation("sigmoid", name="p_fake")`: the probability that the image is fake. An attributor (`classes` > 1)
ends in one logit per source and `Activation("softmax", name="p_source")` instead. The logits are the input of
that last layer, which `seed_ensemble` averages over seeds. No Lambda layers: saved `.keras` files load
with `safe_mode=True`, and saliency tools can swap the last activation. Stock layers only, but for the
`dzanic` baseline's neighbour vote (`NearestNeighboursVote`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers
from scipy import special

from gandct.detector_names import IMAGENET_NAMES, INPUT_KIND
from gandct.errors import GandctError


def frequency_coordinates(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """Append the normalised vertical and horizontal frequency index of each DCT coefficient as two
    channels (0 at the DC term, 1 at the highest frequency), so convolutions can tell where they are.

    Built from stock layers only, so the saved model loads in plain Keras with no gandct import: a
    frozen zero-kernel Dense turns the input into two zero channels, and a Normalization over every
    position whose fixed mean is minus the coordinate grid adds that grid to them ((0 - -grid) / 1).
    """
    height, width = inputs.shape[1], inputs.shape[2]
    rows, cols = np.meshgrid(np.linspace(0.0, 1.0, height), np.linspace(0.0, 1.0, width), indexing="ij")
    grid = np.stack([rows, cols], axis=-1).astype(np.float32)
    zeros = layers.Dense(2, use_bias=False, kernel_initializer="zeros", trainable=False, name="coordinate_base")(inputs)
    coordinates = layers.Normalization(
        axis=(1, 2, 3), mean=-grid, variance=np.ones_like(grid), name="frequency_coordinates"
    )(zeros)
    return layers.Concatenate(name="with_coordinates")([inputs, coordinates])


OUTPUT_LAYERS = ("p_fake", "p_source")  # a detector's sigmoid, an attributor's softmax


def probability_layer(logits: keras.KerasTensor, classes: int) -> keras.KerasTensor:
    """The model's last layer: the sigmoid `p_fake` of one logit, or the softmax `p_source` over `classes` logits."""
    if classes == 1:
        return layers.Activation("sigmoid", name="p_fake")(logits)
    return layers.Activation("softmax", name="p_source")(logits)


def paper_cnn(input_shape: tuple[int, int, int], name: str = "paper", classes: int = 1) -> keras.Model:
    """The DCT CNN of Frank et al. 2020 (ICML), Sec. 4.2 and their `build_simple_cnn`.

    Deviation: one sigmoid unit for our binary real/fake task; their per-source softmax when `classes` > 1.
    """
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = layers.Conv2D(3, 3, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.Flatten()(x)
    logit = layers.Dense(classes, name="logit")(x)
    return keras.Model(inputs, probability_layer(logit, classes), name=name)


def spectral_net(
    input_shape: tuple[int, int, int],
    name: str = "custom",
    width: int = 8,
    dropout: float = 0.3,
    l2: float = 1e-4,
    linear_path: bool = False,
    classes: int = 1,
) -> keras.Model:
    """This project's detector for DCT maps: a position-aware CNN that keeps where each band summary sits.

    - frequency coordinates: GAN up-sampling traces sit at fixed frequencies, so translation invariance
      is the wrong prior; the coordinate channels let each filter respond differently per frequency.
    - Three conv blocks with batch normalisation, doubling the width and halving the map each time:
      local spectral patterns (peaks and their neighbours) summarised per frequency band.
    - A 1x1 convolution, then flatten and a dense unit: the decision keeps where in the spectrum each
      band summary came from, instead of pooling it away.
    - Optionally (`linear_path`) a linear path from every coefficient straight to the logit (the
      logistic-regression baseline as a branch). Off by default: measured on the default data it made the
      detector worse on generators it never trained on (docs/detectors.md).
    - Dropout and L2 on the dense weights: a few thousand training images and 4096 coefficients.
    - One logit, or one per source when `classes` > 1 (attribution).
    """
    regulariser = keras.regularizers.l2(l2)
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = frequency_coordinates(inputs)
    for filters in (width, 2 * width, 4 * width):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
        x = layers.AveragePooling2D(2)(x)
    x = layers.Conv2D(8, 1, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(dropout)(x)
    logit = layers.Dense(classes, kernel_regularizer=regulariser, name="cnn_logit")(x)
    if linear_path:
        linear = layers.Dropout(dropout)(layers.Flatten()(inputs))
        linear_logit = layers.Dense(classes, kernel_regularizer=regulariser, name="linear_logit")(linear)
        logit = layers.Add()([logit, linear_logit])
    return keras.Model(inputs, probability_layer(logit, classes), name=name)


def logistic_regression(
    input_shape: tuple[int, ...], weights: np.ndarray, biases: np.ndarray, name: str = "linear"
) -> keras.Model:
    """A fitted logistic regression on flattened inputs as a Keras model (the paper's linear baseline on DCT
    maps, Durall et al.'s on radial profiles), so it is saved, loaded, evaluated and explained like the CNNs.
    `weights` (features, classes) and `biases` (classes,): one class is a detector, more a multinomial attributor."""
    biases = np.asarray(biases, np.float32).reshape(-1)
    inputs = keras.Input(shape=input_shape, name="spectrum")
    x = layers.Flatten()(inputs)
    dense = layers.Dense(len(biases), name="logit")
    logit = dense(x)
    dense.set_weights([np.asarray(weights, np.float32).reshape(-1, len(biases)), biases])
    return keras.Model(inputs, probability_layer(logit, len(biases)), name=name)


@keras.saving.register_keras_serializable(package="gandct")
class NearestNeighboursVote(layers.Layer):
    """The logit of a k-nearest-neighbour vote: with f fakes among the k stored train points nearest to the input
    (Euclidean), log((f + 1/2) / (k - f + 1/2)), a finite logit that ranks as the vote does. The stored points
    and labels are weights of the layer, saved in the .keras file. The one layer of a detector that is not
    stock Keras: no stock layer takes the k smallest of a vector, so the file loads where gandct is imported."""

    def __init__(self, points: int, features: int, neighbours: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.points, self.features, self.neighbours = points, features, neighbours

    def build(self, input_shape: tuple) -> None:
        self.reference = self.add_weight(shape=(self.points, self.features), initializer="zeros", trainable=False)
        self.reference_labels = self.add_weight(shape=(self.points,), initializer="zeros", trainable=False)

    def call(self, inputs: keras.KerasTensor) -> keras.KerasTensor:
        ops = keras.ops
        squared = (
            ops.sum(inputs**2, axis=1, keepdims=True)
            - 2 * ops.matmul(inputs, ops.transpose(self.reference))
            + ops.sum(self.reference**2, axis=1)[None, :]
        )
        _, nearest = ops.top_k(-squared, k=self.neighbours, sorted=False)
        fakes = ops.sum(ops.take(self.reference_labels, nearest), axis=1, keepdims=True)
        return ops.log((fakes + 0.5) / (self.neighbours - fakes + 0.5))

    def get_config(self) -> dict:
        return {**super().get_config(), "points": self.points, "features": self.features, "neighbours": self.neighbours}


def nearest_neighbours(features: np.ndarray, labels: np.ndarray, neighbours: int, name: str = "dzanic") -> keras.Model:
    """A k-nearest-neighbour classifier on standardised features as a Keras model (Dzanic et al. 2020, Sec. 4:
    k = 5 on the three power-law features): the train features' mean and variance standardise the input, and
    the standardised train features are the points it votes among."""
    features = np.asarray(features, np.float64)
    mean, variance = features.mean(axis=0), features.var(axis=0)
    variance[variance == 0] = 1.0  # a constant feature stays 0 after standardising
    inputs = keras.Input(shape=features.shape[1:], name="power_law")
    standardised = layers.Normalization(mean=mean, variance=variance, name="standardise")(inputs)
    vote = NearestNeighboursVote(len(features), features.shape[1], neighbours, name="logit")
    logit = vote(standardised)
    vote.set_weights([((features - mean) / np.sqrt(variance)).astype(np.float32), np.asarray(labels, np.float32)])
    outputs = layers.Activation("sigmoid", name="p_fake")(logit)
    return keras.Model(inputs, outputs, name=name)


@dataclass(frozen=True)
class ImagenetArchitecture:
    """A keras.applications classifier: its constructor, smallest input side, input scaling, weights file."""

    constructor: str
    min_side: int
    preprocessing: str  # "tf": [-1, 1]; "torch": [0, 1] then ImageNet mean/std; "caffe": BGR [0, 255] minus mean
    weights_file: str  # without the classification top, as keras.applications caches it under ~/.keras/models/


# keras.applications details of the ImageNet pixel baselines (detector_names.IMAGENET_NAMES).
IMAGENET: dict[str, ImagenetArchitecture] = {
    "resnet152": ImagenetArchitecture(
        "ResNet152", 32, "caffe", "resnet152_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    "densenet121": ImagenetArchitecture(
        "DenseNet121", 32, "torch", "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    "xception": ImagenetArchitecture("Xception", 71, "tf", "xception_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    "nasnetmobile": ImagenetArchitecture("NASNetMobile", 32, "tf", "nasnet_mobile_no_top.h5"),
    "inceptionresnetv2": ImagenetArchitecture(
        "InceptionResNetV2", 75, "tf", "inception_resnet_v2_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
}
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)  # "torch" scaling, of [0, 1] images
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
IMAGENET_MEAN_BGR_255 = (103.939, 116.779, 123.68)  # "caffe" scaling
BATCH_NORM_MOMENTUM = 0.99  # Keras' default: moving statistics that follow a short training run


def imagenet_weights_path(name: str) -> Path:
    """Where keras.applications caches the ImageNet weights of an architecture: `$KERAS_HOME/models/`, by
    default `~/.keras/models/` (read from there, never downloaded here)."""
    keras_home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    return Path(keras_home) / "models" / IMAGENET[name].weights_file


def imagenet_net(input_shape: tuple[int, int, int], name: str, weights: str = "none") -> keras.Model:
    """A keras.applications ImageNet classifier on pixels in [-1, 1], with a new sigmoid head (Frank et al.
    2020, Sec. 4: ImageNet networks trained on real vs GAN images).

    Gray inputs are repeated to the three channels the networks expect; inputs smaller than the
    architecture allows are up-sampled (bilinear) to its smallest side; pixels are scaled as the
    architecture's ImageNet weights expect. `weights="imagenet"` uses weights already in the Keras cache
    and raises GandctError if they are not there: nothing is downloaded.
    """
    architecture = IMAGENET[name]
    if weights == "imagenet" and not imagenet_weights_path(name).is_file():
        raise GandctError(
            f"train.{name}.weights is imagenet but {imagenet_weights_path(name)} is not there; copy the file "
            "there (keras.applications' no-top weights), or set weights: none to train from scratch"
        )
    inputs = keras.Input(shape=input_shape, name="pixels")
    x = layers.Concatenate()([inputs] * 3) if input_shape[-1] == 1 else inputs
    side = max(input_shape[0], input_shape[1], architecture.min_side)
    if (input_shape[0], input_shape[1]) != (side, side):
        x = layers.Resizing(side, side, interpolation="bilinear")(x)
    if architecture.preprocessing == "torch":
        x = layers.Rescaling(0.5, offset=0.5)(x)
        x = layers.Normalization(mean=IMAGENET_MEAN_RGB, variance=[s**2 for s in IMAGENET_STD_RGB])(x)
    elif architecture.preprocessing == "caffe":
        x = layers.Rescaling(127.5, offset=127.5)(x)
        rgb_to_bgr = layers.Conv2D(3, 1, use_bias=False, trainable=False, name="rgb_to_bgr")
        x = rgb_to_bgr(x)
        rgb_to_bgr.set_weights([np.eye(3, dtype=np.float32)[::-1].reshape(1, 1, 3, 3)])
        x = layers.Normalization(mean=IMAGENET_MEAN_BGR_255, variance=(1.0, 1.0, 1.0))(x)
    backbone = getattr(keras.applications, architecture.constructor)(
        include_top=False,
        weights=str(imagenet_weights_path(name)) if weights == "imagenet" else None,
        input_shape=(side, side, 3),
        pooling="avg",
    )
    # NASNet's batch-norm momentum (0.9997) suits ImageNet-length runs: in a few hundred steps its moving
    # statistics barely leave their initial values and inference-mode predictions collapse to one class.
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = min(layer.momentum, BATCH_NORM_MOMENTUM)
    logit = layers.Dense(1, name="logit")(backbone(x))
    outputs = layers.Activation("sigmoid", name="p_fake")(logit)
    return keras.Model(inputs, outputs, name=name)


def output_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer a model ends with, `p_fake` (a detector) or `p_source` (an attributor)."""
    return model.get_layer(next(layer.name for layer in model.layers if layer.name in OUTPUT_LAYERS))


def logit_model(model: keras.Model, name: str | None = None) -> keras.Model:
    """`model` up to its logits, the input of the sigmoid `p_fake` (or softmax `p_source`) it ends with, sharing
    its weights; named `name`, or `<model>_logit`."""
    return keras.Model(model.input, output_layer(model).input, name=name or f"{model.name}_logit")


def seed_ensemble(members: dict[int, keras.Model], name: str) -> keras.Model:
    """The seed ensemble of model `name` from `members` ({seed: trained model}): the sigmoid (softmax) of the mean
    of the seeds' logits, each the input of its member's last layer. Each member becomes the sub-model
    `seed_<s>` up to its logits, sharing its weights; one member gives that member's own outputs."""
    first = next(iter(members.values()))
    inputs = keras.Input(shape=first.input_shape[1:], name=first.layers[0].name)
    logits = [logit_model(member, f"seed_{seed}")(inputs) for seed, member in members.items()]
    # Mean logit, the standard logit-averaging ensemble: saliency linearises p_fake to it, so gradients stay alive.
    logit = layers.Average(name="mean_logit")(logits) if len(logits) > 1 else logits[0]
    return keras.Model(inputs, probability_layer(logit, first.output_shape[-1]), name=name)


def probabilities(logits: np.ndarray) -> np.ndarray:
    """p_fake in float64 from the model's float32 logits: a float32 sigmoid rounds every logit above about 17
    to 1.0 (and far below 0 to tiny ties), which would tie scores that rank differently."""
    return special.expit(np.asarray(logits, np.float64))


def source_probabilities(logits: np.ndarray) -> np.ndarray:
    """An attributor's probability per source (float64, softmax over the last axis) from its float32 logits."""
    return special.softmax(np.asarray(logits, np.float64), axis=-1)


@dataclass(frozen=True)
class ModelSpec:
    """How to build a detector and which cached feature array it reads."""

    builder: Callable[..., keras.Model] | None  # None: fitted outside Keras (linear, durall, dzanic)
    features: str  # detector_names.DCT, PIXELS, RADIAL or POWER_LAW


BUILDERS: dict[str, Callable[..., keras.Model] | None] = {
    "paper": paper_cnn,
    "custom": spectral_net,
    "paper_pixel": paper_cnn,
    "linear": None,
    "durall": None,
    "dzanic": None,
    **dict.fromkeys(IMAGENET_NAMES, imagenet_net),
}
MODELS: dict[str, ModelSpec] = {name: ModelSpec(BUILDERS[name], kind) for name, kind in INPUT_KIND.items()}
