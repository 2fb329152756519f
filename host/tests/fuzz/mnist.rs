//! MNIST's IDX reader on arbitrary bytes, on headers with any counts and sizes over bodies
//! that fit or not, and on the four files of a folder (raw or gzip, made up or cut short).

use std::io::Write;

use joulebench::dataset::mnist::{self, Verify};
use proptest::prelude::*;

use super::{config, config_files};

/// An IDX file: magic, the given dimensions, then `body` bytes.
fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(body);
    bytes
}

/// A dimension: small, or one of the values that overflow products and allocations.
fn dim() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 0u32..8,
        1 => Just(28),
        1 => Just(4096),
        1 => Just(4097),
        1 => Just(u32::MAX),
        1 => any::<u32>(),
    ]
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_are_images_or_labels_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok((n, rows, cols, pixels)) = mnist::parse_images(&bytes) {
            prop_assert_eq!(pixels.len(), n * rows * cols);
        }
        if let Ok(labels) = mnist::parse_labels(&bytes) {
            prop_assert!(labels.len() + 8 == bytes.len());
        }
    }

    #[test]
    fn any_header_over_any_body_is_read_exactly_or_refused(
        count in dim(), rows in dim(), cols in dim(),
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let images = idx(0x0803, &[count, rows, cols], &body);
        if let Ok((n, r, c, pixels)) = mnist::parse_images(&images) {
            prop_assert_eq!((n, r, c), (count as usize, rows as usize, cols as usize));
            prop_assert_eq!(pixels, body.clone());
        }
        let labels = idx(0x0801, &[count], &body);
        if let Ok(read) = mnist::parse_labels(&labels) {
            prop_assert_eq!(read.len(), count as usize);
        }
    }

}

proptest! {
    #![proptest_config(config_files())]

    #[test]
    fn a_folder_of_made_up_files_loads_consistently_or_is_refused(
        count in 0u32..4, test_count in 0u32..4, rows in 1u32..4, cols in 1u32..4,
        labels in prop::collection::vec(any::<u8>(), 0..8),
        cut in any::<Option<usize>>(), gz in any::<[bool; 4]>(),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let size = (rows * cols) as usize;
        let files = [
            ("train-images-idx3-ubyte", idx(0x0803, &[count, rows, cols], &vec![7; count as usize * size])),
            ("train-labels-idx1-ubyte", idx(0x0801, &[labels.len() as u32], &labels)),
            ("t10k-images-idx3-ubyte", idx(0x0803, &[test_count, rows, cols], &vec![9; test_count as usize * size])),
            ("t10k-labels-idx1-ubyte", idx(0x0801, &[test_count], &vec![1; test_count as usize])),
        ];
        for (i, (name, mut bytes)) in files.into_iter().enumerate() {
            if let (Some(at), 0) = (cut, i) {
                bytes.truncate(at % (bytes.len() + 1));
            }
            let (name, bytes) = if gz[i] {
                (format!("{name}.gz"), gzip(&bytes))
            } else {
                (name.to_string(), bytes)
            };
            std::fs::write(dir.path().join(name), bytes).expect("write");
        }
        if let Ok(data) = mnist::load(dir.path(), Verify::StructureOnly) {
            prop_assert_eq!(data.train.labels.len(), data.train.count);
            prop_assert!(data.train.labels.iter().all(|&l| l <= 9));
            prop_assert_eq!(data.test.pixels.len(), data.test.count * data.test.rows * data.test.cols);
        }
    }

    #[test]
    fn a_gzip_file_of_any_bytes_is_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..64), gz in any::<bool>()) {
        let dir = tempfile::tempdir().expect("temp dir");
        let body = if gz { gzip(&bytes) } else { bytes.clone() };
        // Garbage under a .gz name: the decoder refuses it, never panics.
        std::fs::write(dir.path().join("train-images-idx3-ubyte.gz"), if gz { body } else { bytes }).expect("write");
        for name in ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        prop_assert!(mnist::load(dir.path(), Verify::StructureOnly).is_err());
    }
}
