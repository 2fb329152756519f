//! The largest campaign a manifest (or `--iterations`) may ask for, and why: every limit
//! keeps the plan, the data and the run time within what one machine can hold and finish.
//! They are checked once, at load, so nothing later allocates or loops on an absurd count.

/// Iterations: each one runs every plugin once, and a run takes seconds at the very least, so
/// 100,000 iterations are already days of measuring; more is a typo, not a study.
pub const MAX_ITERATIONS: u32 = 100_000;

/// Epochs per run: the study trains for a handful; 1,000 epochs of MNIST are hours per run.
pub const MAX_EPOCHS: u32 = 1_000;

/// Batch size: plugins allocate a batch of images (and its activations) up front.
pub const MAX_BATCH_SIZE: u32 = 65_536;

/// MNIST's split sizes: a subset takes the first N images, so it can hold no more.
pub const MNIST_TRAIN_IMAGES: usize = 60_000;
pub const MNIST_TEST_IMAGES: usize = 10_000;

/// `iterations` within 1..=[`MAX_ITERATIONS`]; `Err` says the limit and why.
pub fn check_iterations(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("`iterations` must be at least 1".into());
    }
    if n > MAX_ITERATIONS {
        return Err(format!(
            "`iterations` = {n} is more than {MAX_ITERATIONS}: each iteration runs every plugin \
             once, so {MAX_ITERATIONS} iterations are already days of measuring"
        ));
    }
    Ok(n)
}

/// `epochs` within 1..=[`MAX_EPOCHS`].
pub fn check_epochs(n: u32) -> Result<u32, String> {
    match n {
        0 => Err("[training] `epochs` must be at least 1".into()),
        n if n > MAX_EPOCHS => Err(format!(
            "[training] `epochs` = {n} is more than {MAX_EPOCHS}: each run trains every epoch, \
             and {MAX_EPOCHS} epochs of MNIST are hours per run"
        )),
        n => Ok(n),
    }
}

/// `batch_size` within 1..=[`MAX_BATCH_SIZE`] and no larger than the `train_images` a run
/// trains on (a batch larger than the data set is never filled).
pub fn check_batch_size(n: u32, train_images: usize) -> Result<u32, String> {
    if n == 0 {
        return Err("[training] `batch_size` must be at least 1".into());
    }
    if n > MAX_BATCH_SIZE {
        return Err(format!(
            "[training] `batch_size` = {n} is more than {MAX_BATCH_SIZE}: plugins allocate a \
             whole batch of images and activations at once"
        ));
    }
    if n as usize > train_images {
        return Err(format!(
            "[training] `batch_size` = {n} is more than the {train_images} training images a \
             run trains on (a batch is never larger than the data set)"
        ));
    }
    Ok(n)
}

/// A `[dataset]` subset (`key`) within 1..=`split` images.
pub fn check_subset(key: &str, n: usize, split: usize) -> Result<usize, String> {
    match n {
        0 => Err(format!("[dataset] `{key}` must be at least 1")),
        n if n > split => Err(format!(
            "[dataset] `{key}` = {n} is more than the {split} images MNIST's split holds"
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_inclusive_and_errors_say_them() {
        assert_eq!(check_iterations(MAX_ITERATIONS), Ok(MAX_ITERATIONS));
        let e = check_iterations(MAX_ITERATIONS + 1).unwrap_err();
        assert!(e.contains("100000"), "{e}");
        assert!(check_iterations(0).is_err());
        assert_eq!(check_epochs(MAX_EPOCHS), Ok(MAX_EPOCHS));
        assert!(check_epochs(MAX_EPOCHS + 1).unwrap_err().contains("1000"));
        assert_eq!(check_batch_size(64, 500), Ok(64));
        assert_eq!(check_batch_size(500, 500), Ok(500));
        assert!(check_batch_size(501, 500)
            .unwrap_err()
            .contains("500 training"));
        let e = check_batch_size(u32::MAX, MNIST_TRAIN_IMAGES).unwrap_err();
        assert!(e.contains("4294967295") && e.contains("65536"), "{e}");
        assert_eq!(check_subset("train_subset", 60_000, 60_000), Ok(60_000));
        assert!(check_subset("test_subset", 10_001, 10_000).is_err());
    }
}
