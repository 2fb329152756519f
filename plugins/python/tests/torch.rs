//! The torch trainer, run for real through the plugin (needs .venv/torch: scripts/setup-venvs).

mod common;

#[test]
fn torch_learns_on_an_mnist_subset_with_the_threads_asked_for() {
    common::learns("torch", "torch_cnn.py", "torch ", "intra_op_threads");
}

#[test]
fn torch_loads_the_host_weights_and_agrees_with_the_reference() {
    common::agrees_with_the_reference("torch", "torch_cnn.py");
}
