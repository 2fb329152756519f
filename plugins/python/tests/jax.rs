//! The jax trainer, run for real through the plugin (needs .venv/jax: scripts/setup-venvs).

mod common;

#[test]
fn jax_learns_on_an_mnist_subset_with_the_threads_asked_for() {
    common::learns("jax", "jax_cnn.py", "jax ", "xla_intra_op_threads");
}

#[test]
fn jax_loads_the_host_weights_and_agrees_with_the_reference() {
    common::agrees_with_the_reference("jax", "jax_cnn.py");
}
