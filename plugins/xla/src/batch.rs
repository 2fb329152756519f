//! Host-side batches: the images a batch names, gathered into one reusable buffer in the
//! programs' layout (height × width × channels), their labels and a 0/1 mask, padded with
//! zeros to the compiled batch size.

use plugin_api::Images;

/// A batch being assembled; reused from batch to batch.
pub struct Staging {
    pub size: usize,
    pub pixels: Vec<f32>,
    pub labels: Vec<i32>,
    pub mask: Vec<f32>,
}

impl Staging {
    pub fn new(size: usize, image_len: usize) -> Staging {
        Staging {
            size,
            pixels: vec![0.0; size * image_len],
            labels: vec![0; size],
            mask: vec![0.0; size],
        }
    }

    /// Fills the batch with `images[indices]` (at most `size` of them) and zero padding.
    /// The caller has checked every index against `images.count`.
    pub fn fill(&mut self, images: &Images<'_>, indices: impl Iterator<Item = usize>) -> usize {
        let len = images.image_len();
        let pixels = images.pixels.as_slice();
        let labels = images.labels.as_slice();
        let mut used = 0;
        for (row, i) in indices.take(self.size).enumerate() {
            let dst = &mut self.pixels[row * len..][..len];
            to_hwc(&pixels[i * len..][..len], dst, images);
            self.labels[row] = i32::from(labels[i]);
            self.mask[row] = 1.0;
            used = row + 1;
        }
        self.pixels[used * len..].fill(0.0);
        self.labels[used..].fill(0);
        self.mask[used..].fill(0.0);
        used
    }
}

/// One image from the host's channels-first layout to height × width × channels.
fn to_hwc(src: &[f32], dst: &mut [f32], images: &Images<'_>) {
    let c = images.channels as usize;
    if c == 1 {
        dst.copy_from_slice(src);
        return;
    }
    let plane = images.height as usize * images.width as usize;
    for (p, pixel) in dst.chunks_exact_mut(c).enumerate() {
        for (ch, v) in pixel.iter_mut().enumerate() {
            *v = src[ch * plane + p];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi_stable::std_types::RSlice;

    #[test]
    fn gathers_transposes_and_pads() {
        // Three 2-channel 1×2 images: values encode (image, channel, x).
        let pixels: Vec<f32> = (0..3)
            .flat_map(|i| {
                (0..2).flat_map(move |c| (0..2).map(move |x| (i * 100 + c * 10 + x) as f32))
            })
            .collect();
        let labels = [7u8, 8, 9];
        let images = Images {
            pixels: RSlice::from_slice(&pixels),
            labels: RSlice::from_slice(&labels),
            count: 3,
            channels: 2,
            height: 1,
            width: 2,
        };
        let mut s = Staging::new(4, 4);
        s.pixels.fill(5.0); // left-overs from an earlier batch must not survive
        s.mask.fill(1.0);
        assert_eq!(s.fill(&images, [2, 0].into_iter()), 2);
        // Image 2 as x0c0, x0c1, x1c0, x1c1; then image 0; then zeros.
        assert_eq!(&s.pixels[..8], &[200., 210., 201., 211., 0., 10., 1., 11.]);
        assert!(s.pixels[8..].iter().all(|&v| v == 0.0));
        assert_eq!(s.labels, vec![9, 7, 0, 0]);
        assert_eq!(s.mask, vec![1., 1., 0., 0.]);
    }
}
