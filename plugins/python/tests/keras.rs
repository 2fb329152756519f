//! The keras trainer, run for real through the plugin (needs .venv/keras: scripts/setup-venvs).

mod common;

#[test]
fn keras_learns_on_an_mnist_subset_with_the_threads_asked_for() {
    common::learns("keras", "keras_cnn.py", "tensorflow ", "intra_op_threads");
}

#[test]
fn keras_loads_the_host_weights_and_agrees_with_the_reference() {
    common::agrees_with_the_reference("keras", "keras_cnn.py");
}
