"""A small Fashion-MNIST CNN trained once per test session, for the export and TFLite tests."""

from dataclasses import dataclass

import numpy as np


@dataclass
class TrainedFashion:
    model: object
    x_train: np.ndarray  # float32 model input, (n, 28, 28, 1) in [0, 1]
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list


def train_small_fashion_cnn() -> TrainedFashion:
    from course_lib import data, models, training

    training.set_seed(0)
    fashion = data.load_fashion_mnist(subset=1000)  # 10,000 training images: one epoch reaches ~0.8
    prep = models.preprocessing_for((28, 28, 1))
    x_train = models.as_model_input(fashion.x_train, prep)
    x_test = models.as_model_input(fashion.x_test, prep)
    model = models.build_baseline_cnn((28, 28, 1), fashion.num_classes)
    model.compile(optimizer="adam", loss=training.LOSS, metrics=list(training.METRICS))
    model.fit(x_train, fashion.y_train, epochs=1, batch_size=64, verbose=0)
    return TrainedFashion(model, x_train, x_test, fashion.y_test, fashion.class_names)


# ------------------------------------------------ exercise 8.1: train steps students write
# Module-level functions, so that a subprocess with two logical CPUs can import and check them.


def _replica_step_factory(model, optimizer, loss_of, apply=True):
    import tensorflow as tf

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_of(labels, model(images, training=True))
        gradients = tape.gradient(loss, model.trainable_variables)
        if apply:
            optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return replica_step


def _step_with(strategy, replica_step, reduce="SUM"):
    import tensorflow as tf

    @tf.function
    def train_step(batch):
        return strategy.reduce(reduce, strategy.run(replica_step, args=batch), axis=None)

    return train_step


def step_solution(strategy, model, optimizer, global_batch_size):
    """The lesson's answer."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_example_loss = loss_fn(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        per_replica_loss = strategy.run(replica_step, args=batch)
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica_loss, axis=None)

    return train_step


def step_right_sum_over_global_batch_eager(strategy, model, optimizer, global_batch_size):
    """Right, written differently: the sum divided by the global batch by hand,
    optimizer.apply, no tf.function."""
    import keras
    import tensorflow as tf

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            losses = keras.losses.sparse_categorical_crossentropy(
                labels, model(images, training=True)
            )
            loss = tf.reduce_sum(losses) / global_batch_size
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss

    def train_step(batch):
        images, labels = batch
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=(images, labels)), axis=None
        )

    return train_step


def step_right_keras_default_reduction(strategy, model, optimizer, global_batch_size):
    """Right, written differently: a Keras loss object with its default reduction, which
    under a strategy already divides each replica's mean by the number of replicas (equal
    shares of the global batch)."""
    import keras

    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    return _step_with(strategy, _replica_step_factory(model, optimizer, loss_fn))


def step_wrong_per_replica_mean(strategy, model, optimizer, global_batch_size):
    """Averages each replica's losses over its own share: tf.reduce_mean of the
    per-example losses."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return _step_with(
        strategy,
        _replica_step_factory(
            model,
            optimizer,
            lambda labels, probabilities: tf.reduce_mean(loss_fn(labels, probabilities)),
        ),
    )


def step_wrong_inference_mode(strategy, model, optimizer, global_batch_size):
    """The lesson's step with the model called with training=False."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            probabilities = model(images, training=False)
            loss = tf.nn.compute_average_loss(
                loss_fn(labels, probabilities), global_batch_size=global_batch_size
            )
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return _step_with(strategy, replica_step)


def step_wrong_no_training_argument(strategy, model, optimizer, global_batch_size):
    """A student's: the model called without a training argument, in inference mode."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            probs = model(images)  # no training=True
            loss = tf.nn.compute_average_loss(
                loss_fn(labels, probs), global_batch_size=global_batch_size
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    @tf.function
    def train_step(batch):
        return strategy.reduce(
            tf.distribute.ReduceOp.SUM, strategy.run(replica_step, args=batch), axis=None
        )

    return train_step


def step_wrong_factory_raises(strategy, model, optimizer, global_batch_size):
    """A student's: make_train_step fails before it makes any step."""
    raise RuntimeError("boom")


def step_wrong_no_strategy_run(strategy, model, optimizer, global_batch_size):
    """Calls the replica step on the distributed batch directly."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    replica_step = _replica_step_factory(
        model,
        optimizer,
        lambda labels, probabilities: tf.nn.compute_average_loss(
            loss_fn(labels, probabilities), global_batch_size=global_batch_size
        ),
    )

    @tf.function
    def train_step(batch):
        return replica_step(*batch)

    return train_step


def step_wrong_no_apply(strategy, model, optimizer, global_batch_size):
    """Computes the gradients and never applies them."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return _step_with(
        strategy,
        _replica_step_factory(
            model,
            optimizer,
            lambda labels, probabilities: tf.nn.compute_average_loss(
                loss_fn(labels, probabilities), global_batch_size=global_batch_size
            ),
            apply=False,
        ),
    )


def step_wrong_tape_outside_the_step(strategy, model, optimizer, global_batch_size):
    """Records with a tape around strategy.run and applies the gradients outside the
    replica step."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_loss(images, labels):
        return tf.nn.compute_average_loss(
            loss_fn(labels, model(images, training=True)), global_batch_size=global_batch_size
        )

    @tf.function
    def train_step(batch):
        with tf.GradientTape() as tape:
            loss = strategy.reduce("SUM", strategy.run(replica_loss, args=batch), axis=None)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return train_step


def step_wrong_forward_pass_before_the_tape(strategy, model, optimizer, global_batch_size):
    """Calls the model before the tape starts recording."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        probabilities = model(images, training=True)
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(
                loss_fn(labels, probabilities), global_batch_size=global_batch_size
            )
        optimizer.apply_gradients(
            zip(
                tape.gradient(loss, model.trainable_variables),
                model.trainable_variables,
                strict=True,
            )
        )
        return loss

    return _step_with(strategy, replica_step)


def step_wrong_mean_reduce(strategy, model, optimizer, global_batch_size):
    """Averages the replicas' losses instead of adding them."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return _step_with(
        strategy,
        _replica_step_factory(
            model,
            optimizer,
            lambda labels, probabilities: tf.nn.compute_average_loss(
                loss_fn(labels, probabilities), global_batch_size=global_batch_size
            ),
        ),
        reduce="MEAN",
    )


def step_wrong_returned_loss_divided_again(strategy, model, optimizer, global_batch_size):
    """The lesson's step, but the loss it returns is divided by the global batch size again."""
    solution = step_solution(strategy, model, optimizer, global_batch_size)
    return lambda batch: solution(batch) / global_batch_size


def step_wrong_local_mean_mean_reduce(strategy, model, optimizer, global_batch_size):
    """Each replica averages over its own share, and the losses are averaged: the loss
    returned is right, the gradients twice too big."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return _step_with(
        strategy,
        _replica_step_factory(
            model,
            optimizer,
            lambda labels, probabilities: tf.reduce_mean(loss_fn(labels, probabilities)),
        ),
        reduce="MEAN",
    )


def step_wrong_gradients_applied_twice(strategy, model, optimizer, global_batch_size):
    """The lesson's step with apply_gradients called twice."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_example_loss = loss_fn(labels, model(images, training=True))
            loss = tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch_size)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    return _step_with(strategy, replica_step)


def step_wrong_no_reduce(strategy, model, optimizer, global_batch_size):
    """Returns strategy.run's per-replica losses as they are."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    replica_step = _replica_step_factory(
        model,
        optimizer,
        lambda labels, probabilities: tf.nn.compute_average_loss(
            loss_fn(labels, probabilities), global_batch_size=global_batch_size
        ),
    )

    @tf.function
    def train_step(batch):
        return strategy.run(replica_step, args=batch)

    return train_step


def step_wrong_lesson_batch_size(strategy, model, optimizer, global_batch_size):
    """Divides by the lesson's GLOBAL_BATCH (64) instead of the argument."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return _step_with(
        strategy,
        _replica_step_factory(
            model,
            optimizer,
            lambda labels, probabilities: tf.nn.compute_average_loss(
                loss_fn(labels, probabilities), global_batch_size=64
            ),
        ),
    )


def step_wrong_returns_nothing(strategy, model, optimizer, global_batch_size):
    """Builds the step and forgets to return it."""
    step_solution(strategy, model, optimizer, global_batch_size)


def step_not_attempted(strategy, model, optimizer, global_batch_size):
    """The student notebook's cell as it comes."""
    import tensorflow as tf

    def replica_step(images, labels):
        raise NotImplementedError("Exercise 8.1: Write the distributed train step")

    @tf.function
    def train_step(batch):
        raise NotImplementedError("Exercise 8.1: Write the distributed train step")

    return train_step


def step_wrong_the_library_s_copy(strategy, model, optimizer, global_batch_size):
    """The library's own step, called from the student's function: not the student's work."""
    from course_lib import distributed

    return distributed.make_train_step(strategy, model, optimizer, global_batch_size)


def _averaged_over_the_global_batch(global_batch_size):
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)
    return lambda labels, probabilities: tf.nn.compute_average_loss(
        loss_fn(labels, probabilities), global_batch_size=global_batch_size
    )


def step_wrong_own_optimizer(strategy, model, optimizer, global_batch_size):
    """A student's: an optimizer of its own, made outside the strategy's scope."""
    import keras

    own = keras.optimizers.Adam(1e-3)
    loss_of = _averaged_over_the_global_batch(global_batch_size)
    return _step_with(strategy, _replica_step_factory(model, own, loss_of))


def step_wrong_own_model(strategy, model, optimizer, global_batch_size):
    """A student's: a model of its own (not the argument), made outside the strategy's scope."""
    import keras

    own = keras.Sequential(
        [keras.Input((12, 12, 1)), keras.layers.Flatten(), keras.layers.Dense(10, "softmax")]
    )
    loss_of = _averaged_over_the_global_batch(global_batch_size)
    return _step_with(strategy, _replica_step_factory(own, optimizer, loss_of))


def step_wrong_own_strategy(strategy, model, optimizer, global_batch_size):
    """A student's: a MirroredStrategy of its own, as the lesson's cell makes one, not the
    argument."""
    import tensorflow as tf

    own = tf.distribute.MirroredStrategy()
    loss_of = _averaged_over_the_global_batch(global_batch_size)
    return _step_with(own, _replica_step_factory(model, optimizer, loss_of))


def step_wrong_returns_per_example_losses(strategy, model, optimizer, global_batch_size):
    """A student's: replica_step returns its per-example losses, which strategy.reduce with
    axis=None adds element by element into one vector of a share's length."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def replica_step(images, labels):
        with tf.GradientTape() as tape:
            per_example = loss_fn(labels, model(images, training=True)) / global_batch_size
            loss = tf.reduce_sum(per_example)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return per_example

    return _step_with(strategy, replica_step)


STEP_ANSWERS = {name: obj for name, obj in globals().items() if name.startswith("step_")}


def check_train_steps(names: list[str]) -> dict[str, dict]:
    """Run exercise 8.1's check on each named answer under a MirroredStrategy of two logical CPUs.

    Call in a fresh process: the CPU is split in two before TensorFlow starts.
    """
    from course_lib import checks, distributed

    devices = distributed.use_logical_cpus(2)
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    strategy = tf.distribute.MirroredStrategy(devices)
    results = {}
    for name in names:
        result = checks.exercise_8_1(STEP_ANSWERS[name], strategy)
        results[name] = {"passed": result.passed, "message": result.message}
    return results


def compare_taught_train_step(steps: int = 2) -> dict[str, dict]:
    """Lesson 08's make_train_step (from the notebook) and the library's, from the same start.

    Under a MirroredStrategy of two logical CPUs, each trains the course's baseline CNN for
    ``steps`` global batches of 64 Fashion-MNIST images, with SGD and with Adam. Returns, per
    optimizer, both runs' losses and the largest difference between their final weights.
    Call in a fresh process: the CPU is split in two before TensorFlow starts.
    """
    from course_lib import distributed

    devices = distributed.use_logical_cpus(2)
    import keras
    import tensorflow as tf
    from taught_support import taught

    from course_lib import data, models

    tf.get_logger().setLevel("ERROR")
    strategy = tf.distribute.MirroredStrategy(devices)
    fashion = data.load_fashion_mnist(subset=20)
    dataset = distributed.training_dataset(fashion.x_train, fashion.y_train, 64, seed=0)
    batches = list(strategy.experimental_distribute_dataset(dataset.take(steps)))
    keras.utils.set_random_seed(0)
    start = models.build_baseline_cnn((28, 28, 1), fashion.num_classes).get_weights()
    versions = {"notebook": taught("08", "make_train_step"), "library": distributed.make_train_step}
    results = {}
    for optimizer in ("sgd", "adam"):
        plan = distributed.TrainingPlan(
            optimizer=optimizer, learning_rate=0.01 if optimizer == "sgd" else 1e-3
        )
        runs = {}
        for name, make_train_step in versions.items():
            with strategy.scope():
                model = models.build_baseline_cnn((28, 28, 1), fashion.num_classes)
                model.set_weights(start)
                step_optimizer = distributed.build_optimizer(plan)
                step_optimizer.build(
                    model.trainable_variables
                )  # Adam's slots, made under the strategy
            train_step = make_train_step(strategy, model, step_optimizer, 64)
            losses = [float(train_step(batch)) for batch in batches]
            runs[name] = (losses, model.get_weights())
        results[optimizer] = {
            "losses": {name: losses for name, (losses, _) in runs.items()},
            "weight_difference": distributed.max_weight_difference(
                runs["notebook"][1], runs["library"][1]
            ),
            "weights_moved": distributed.max_weight_difference(runs["library"][1], start),
        }
    return results
