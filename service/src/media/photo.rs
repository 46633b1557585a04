//! Turning an uploaded file into a photo the service can show: the type is read from the bytes
//! (JPEG, PNG or WebP; the file's name and declared type are ignored), the size and the pixel
//! count are bounded before anything is decoded (a small file can declare a 60,000 × 60,000
//! image), the pixels are scaled down to a long edge of `max_edge`, turned upright by the EXIF
//! orientation, and encoded afresh as a JPEG. Nothing of the original file survives but its
//! pixels: EXIF (GPS position, camera serial, time), XMP, IPTC and ICC profiles are all left
//! behind — a photo must not reveal where a woman lives.

use std::io::Cursor;

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, codecs::jpeg::JpegEncoder,
    metadata::Orientation,
};

/// What the checks allow.
#[derive(Clone, Copy, Debug)]
pub struct PhotoLimits {
    /// The most bytes an uploaded file may have.
    pub max_bytes: usize,
    /// The most pixels (width × height) it may declare.
    pub max_pixels: u64,
    /// The long edge of the stored photo (larger ones are scaled down).
    pub max_edge: u32,
}

/// The long edge of a thumbnail.
pub const THUMBNAIL_EDGE: u32 = 320;
/// JPEG quality of stored photos and thumbnails.
const QUALITY: u8 = 82;

/// Why a file is not a photo the service takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the file is larger than allowed")]
    TooLarge,
    #[error("the image has more pixels than allowed")]
    TooManyPixels,
    #[error("the file is not a JPEG, PNG or WebP image")]
    UnsupportedType,
    #[error("the image could not be read")]
    Unreadable,
    #[error("the photo could not be encoded")]
    Encode,
}

/// A processed photo: a fresh JPEG and its size.
#[derive(Clone, Debug)]
pub struct Processed {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// The accepted formats, told by their first bytes.
fn format_of(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

/// The size an uploaded file declares, after checking its bytes and type (cheap: only the
/// header is read). The caller reserves memory by it before [`process`].
pub fn inspect(bytes: &[u8], limits: PhotoLimits) -> Result<(u32, u32), PhotoError> {
    if bytes.len() > limits.max_bytes {
        return Err(PhotoError::TooLarge);
    }
    let format = format_of(bytes).ok_or(PhotoError::UnsupportedType)?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|_| PhotoError::Unreadable)?;
    if width == 0 || height == 0 {
        return Err(PhotoError::Unreadable);
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(PhotoError::TooManyPixels);
    }
    Ok((width, height))
}

/// Checks, decodes, scales, turns upright and re-encodes an uploaded file. CPU-bound: run it on
/// a blocking thread. Memory: the decoded pixels (4 bytes each at most: the decoder may not
/// allocate more, so a 16-bit image is held to half the pixels), and the small copies made
/// from them — scaling comes before turning, so only the scaled image is turned.
pub fn process(bytes: &[u8], limits: PhotoLimits) -> Result<Processed, PhotoError> {
    inspect(bytes, limits)?;
    let (image, orientation) = decode(bytes, limits.max_pixels)?;
    let mut image = scale(image, limits.max_edge);
    image.apply_orientation(orientation);
    encode(image)
}

/// A thumbnail of a stored photo (itself a JPEG this module wrote, upright already).
pub fn thumbnail(jpeg: &[u8]) -> Result<Processed, PhotoError> {
    let (image, _) = decode(jpeg, u64::from(u32::MAX))?;
    encode(scale(image, THUMBNAIL_EDGE))
}

fn decode(bytes: &[u8], max_pixels: u64) -> Result<(DynamicImage, Orientation), PhotoError> {
    let format = format_of(bytes).ok_or(PhotoError::UnsupportedType)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // A decoder allocates what the header declares: bound it before anything is decoded.
    let mut decoder_limits = Limits::default();
    decoder_limits.max_alloc = Some(max_pixels.saturating_mul(4).saturating_add(16 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|_| PhotoError::Unreadable)?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PhotoError::Unreadable);
    }
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(PhotoError::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => PhotoError::TooManyPixels,
        _ => PhotoError::Unreadable,
    })?;
    Ok((image, orientation))
}

/// Scales `image` down to a long edge of at most `max_edge` (area averaging: every source
/// pixel counts once, without a floating-point copy of the whole image).
fn scale(image: DynamicImage, max_edge: u32) -> DynamicImage {
    if image.width().max(image.height()) > max_edge { image.thumbnail(max_edge, max_edge) } else { image }
}

/// Encodes `image` as a JPEG, without any metadata; transparency is laid on white.
fn encode(image: DynamicImage) -> Result<Processed, PhotoError> {
    let rgb = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
        for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
            let [r, g, b, a] = px.0;
            let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
            *out = image::Rgb([over_white(r), over_white(g), over_white(b)]);
        }
        rgb
    } else {
        image.to_rgb8()
    };
    let mut jpeg = Vec::with_capacity(rgb.as_raw().len() / 8);
    JpegEncoder::new_with_quality(&mut jpeg, QUALITY).encode_image(&rgb).map_err(|_| PhotoError::Encode)?;
    Ok(Processed { jpeg, width: rgb.width(), height: rgb.height() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, codecs::png::PngEncoder};

    const LIMITS: PhotoLimits = PhotoLimits { max_bytes: 1 << 20, max_pixels: 4_000_000, max_edge: 64 };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let pixels = vec![200u8; (width * height * 3) as usize];
        PngEncoder::new(&mut out)
            .write_image(&pixels, width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn a_photo_comes_back_as_a_scaled_jpeg() {
        let out = process(&png(200, 100), LIMITS).unwrap();
        assert_eq!((out.width, out.height), (64, 32));
        assert_eq!(image::guess_format(&out.jpeg).unwrap(), ImageFormat::Jpeg);
        let small = process(&png(10, 20), LIMITS).unwrap();
        assert_eq!((small.width, small.height), (10, 20));
    }

    #[test]
    fn the_type_is_read_from_the_bytes() {
        assert_eq!(process(b"GIF89a\x01\x00\x01\x00", LIMITS).unwrap_err(), PhotoError::UnsupportedType);
        assert_eq!(
            process(b"<svg xmlns='http://www.w3.org/2000/svg'/>", LIMITS).unwrap_err(),
            PhotoError::UnsupportedType
        );
        let mut broken = png(8, 8);
        broken.truncate(40);
        assert_eq!(process(&broken, LIMITS).unwrap_err(), PhotoError::Unreadable);
    }

    #[test]
    fn size_and_pixels_are_bounded_before_decoding() {
        let big = png(300, 300);
        let tight = PhotoLimits { max_bytes: big.len() - 1, ..LIMITS };
        assert_eq!(process(&big, tight).unwrap_err(), PhotoError::TooLarge);
        let few = PhotoLimits { max_pixels: 300 * 300 - 1, ..LIMITS };
        assert_eq!(process(&big, few).unwrap_err(), PhotoError::TooManyPixels);
    }
}
