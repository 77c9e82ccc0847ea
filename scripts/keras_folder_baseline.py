#!/usr/bin/env python3
"""The reference for the `image-folder` recipe (docs/image-folder.md): TensorFlow's image
classification tutorial (tensorflow.org/tutorials/images/classification) on a class-per-folder
tree `ROOT/{train,test}/<class>/<image>`.

As in the tutorial: `image_dataset_from_directory` with a seeded 80/20 training/validation split
of ROOT/train, batch 32, images resized to SIZE x SIZE (the tutorial's 180 by default), RGB;
the model `Rescaling(1/255) -> [Conv2D(16|32|64, 3, same, relu) -> MaxPool] x3 -> Flatten ->
Dense(128, relu) -> Dense(classes)`, Adam, sparse cross-entropy on logits, trained for 10 epochs
(`plain`), and the tutorial's second model with its augmentation (RandomFlip horizontal,
RandomRotation 0.1, RandomZoom 0.1) and Dropout(0.2), trained for 15 epochs (`augmented`). The
final weights of each are evaluated on ROOT/test (held out), and the accuracies printed as one
JSON line.

    pip install tensorflow-cpu
    python3 scripts/keras_folder_baseline.py ROOT [--size 180] [--seed 123]
"""
import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def datasets(root, size, seed):
    common = dict(image_size=(size, size), batch_size=32)
    train = tf.keras.utils.image_dataset_from_directory(
        os.path.join(root, "train"), validation_split=0.2, subset="training", seed=seed, **common
    )
    valid = tf.keras.utils.image_dataset_from_directory(
        os.path.join(root, "train"), validation_split=0.2, subset="validation", seed=seed, **common
    )
    test = tf.keras.utils.image_dataset_from_directory(
        os.path.join(root, "test"), shuffle=False, **common
    )
    classes = len(train.class_names)
    autotune = tf.data.AUTOTUNE
    train = train.cache().shuffle(1000, seed=seed).prefetch(autotune)
    valid = valid.cache().prefetch(autotune)
    return train, valid, test.cache(), classes


def model(size, classes, augmented):
    head = []
    if augmented:
        head = [
            layers.RandomFlip("horizontal", input_shape=(size, size, 3)),
            layers.RandomRotation(0.1),
            layers.RandomZoom(0.1),
        ]
    body = [
        layers.Rescaling(1.0 / 255),
        layers.Conv2D(16, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
        layers.Conv2D(64, 3, padding="same", activation="relu"),
        layers.MaxPooling2D(),
    ]
    if augmented:
        body.append(layers.Dropout(0.2))
    body += [layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(classes)]
    if not augmented:
        body[0] = layers.Rescaling(1.0 / 255, input_shape=(size, size, 3))
    net = tf.keras.Sequential(head + body)
    net.compile(
        optimizer="adam",
        loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return net


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root")
    parser.add_argument("--size", type=int, default=180)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--only", choices=["plain", "augmented"])
    args = parser.parse_args()
    tf.keras.utils.set_random_seed(args.seed)
    train, valid, test, classes = datasets(args.root, args.size, args.seed)
    result = {"root": args.root, "size": args.size, "seed": args.seed}
    for name, augmented, epochs in [("plain", False, 10), ("augmented", True, 15)]:
        if args.only and args.only != name:
            continue
        start = time.time()
        net = model(args.size, classes, augmented)
        history = net.fit(train, validation_data=valid, epochs=epochs, verbose=2)
        _, accuracy = net.evaluate(test, verbose=0)
        result[name] = {
            "epochs": epochs,
            "test_accuracy": round(float(accuracy), 4),
            "valid_accuracy": round(float(history.history["val_accuracy"][-1]), 4),
            "train_accuracy": round(float(history.history["accuracy"][-1]), 4),
            "seconds": round(time.time() - start, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
