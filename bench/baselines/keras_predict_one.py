"""Baseline for cold-start: the plain Keras way to read one digit from a picture.

    python bench/baselines/keras_predict_one.py MODEL.keras IMAGE.png   → prints the digit

Loads the whole model with Keras (safe mode), opens the picture with Pillow, grey, 28×28, one
`predict`, prints the most likely digit.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter quiet

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

model_path, image_path = sys.argv[1], sys.argv[2]
model = keras.saving.load_model(model_path)
with Image.open(image_path) as img:
    x = np.asarray(img.convert("L").resize((28, 28)), dtype=np.float32).reshape(1, 784) / 255
logits = model.predict(x, verbose=0)
print(int(np.argmax(logits[0])))
