"""save_model keeps a .keras file whose weights did not change, so DVC does not re-run what depends on it."""

from __future__ import annotations

import keras
import numpy as np

from gandct.keras_io import save_model


def dense_model() -> keras.Model:
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(inputs))


def test_same_weights_keep_the_file_and_new_weights_replace_it(tmp_path):
    model, path = dense_model(), tmp_path / "models" / "m.keras"
    assert save_model(model, path)
    first = path.read_bytes()
    assert not save_model(model, path)
    assert path.read_bytes() == first  # byte for byte: the save time inside was not rewritten
    model.get_layer("out").set_weights([np.ones((4, 1)), np.zeros(1)])
    assert save_model(model, path)
    assert path.read_bytes() != first
    reloaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(reloaded.get_layer("out").get_weights()[0], np.ones((4, 1)))
    assert [p.name for p in path.parent.iterdir()] == ["m.keras"]  # no temporary left behind


def test_a_damaged_file_is_replaced(tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"not a zip")
    assert save_model(dense_model(), path)
    keras.saving.load_model(path, safe_mode=True)
