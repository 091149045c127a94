//! `cargo run -p wa-icons` draws every icon from one source (the shapes
//! below) into `icons/`: the app icon at every size Tauri's bundles need
//! (PNG, `.ico`, `.icns`) and the tray icon in each state (a badge on the same
//! bubble). The outputs are committed; run this after changing a shape.
//!
//! Shapes are signed-distance functions sampled 4x4 per pixel, so every size
//! is drawn crisp rather than scaled. The tray bubble has a white rim, so it
//! reads on light and dark panels alike.

// Geometry reads best with the usual short names (x, y, r, c, u, v).
#![allow(clippy::many_single_char_names)]

use std::path::Path;

use image::{Rgba, RgbaImage};

type Color = [f32; 4];

const TEAL: Color = [0.027, 0.369, 0.329, 1.0];
const GREEN: Color = [0.145, 0.827, 0.400, 1.0];
const WHITE: Color = [1.0, 1.0, 1.0, 1.0];
const BLUE: Color = [0.118, 0.471, 0.918, 1.0];
const GREY: Color = [0.42, 0.45, 0.48, 1.0];
const ORANGE: Color = [0.93, 0.38, 0.05, 1.0];

/// A state badge in the tray icon's corner.
#[derive(Clone, Copy)]
enum Badge {
    None,
    Connected,
    Syncing,
    Paused,
    Attention,
}

fn rounded_rect(x: f32, y: f32, cx: f32, cy: f32, half: f32, r: f32) -> f32 {
    let qx = (x - cx).abs() - (half - r);
    let qy = (y - cy).abs() - (half - r);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

fn circle(x: f32, y: f32, cx: f32, cy: f32, r: f32) -> f32 {
    ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r
}

/// Inside the triangle (a, b, c)?
fn in_triangle(p: (f32, f32), a: (f32, f32), b: (f32, f32), c: (f32, f32)) -> bool {
    let side = |p: (f32, f32), q: (f32, f32), r: (f32, f32)| (p.0 - r.0) * (q.1 - r.1) - (q.0 - r.0) * (p.1 - r.1);
    let (d1, d2, d3) = (side(p, a, b), side(p, b, c), side(p, c, a));
    !((d1 < 0.0 || d2 < 0.0 || d3 < 0.0) && (d1 > 0.0 || d2 > 0.0 || d3 > 0.0))
}

/// The speech bubble (unit square coordinates): a circle with a tail at the lower left.
fn bubble(x: f32, y: f32, grow: f32) -> bool {
    circle(x, y, 0.5, 0.47, 0.32 + grow) <= 0.0
        || in_triangle(
            (x, y),
            (0.22 - grow, 0.86 + grow),
            (0.27 - grow, 0.58),
            (0.45, 0.74 + grow),
        )
}

/// Three dots in the bubble: a conversation the assistant reads.
fn dots(x: f32, y: f32) -> bool {
    [0.36, 0.5, 0.64].iter().any(|&cx| circle(x, y, cx, 0.47, 0.045) <= 0.0)
}

fn blend(under: Color, over: Color) -> Color {
    let a = over[3] + under[3] * (1.0 - over[3]);
    if a <= 0.0 {
        return [0.0; 4];
    }
    let mix = |i: usize| (over[i] * over[3] + under[i] * under[3] * (1.0 - over[3])) / a;
    [mix(0), mix(1), mix(2), a]
}

/// The app icon at one point (unit coordinates).
fn app_icon(x: f32, y: f32) -> Color {
    let mut c = [0.0; 4];
    if rounded_rect(x, y, 0.5, 0.5, 0.46, 0.11) <= 0.0 {
        c = TEAL;
    }
    if bubble(x, y, 0.0) {
        c = WHITE;
    }
    if dots(x, y) {
        c = TEAL;
    }
    c
}

/// The tray icon at one point: the bubble with a white rim, and a badge.
fn tray_icon(x: f32, y: f32, badge: Badge) -> Color {
    let mut c = [0.0; 4];
    if bubble(x, y, 0.06) {
        c = WHITE;
    }
    if bubble(x, y, 0.0) {
        c = TEAL;
    }
    if dots(x, y) {
        c = WHITE;
    }
    let (bx, by, r) = (0.735, 0.735, 0.22);
    let color = match badge {
        Badge::None => return c,
        Badge::Connected => GREEN,
        Badge::Syncing => BLUE,
        Badge::Paused => GREY,
        Badge::Attention => ORANGE,
    };
    if circle(x, y, bx, by, r + 0.04) <= 0.0 {
        c = WHITE;
    }
    if circle(x, y, bx, by, r) <= 0.0 {
        c = color;
        let (u, v) = (x - bx, y - by);
        let glyph = match badge {
            // A down arrow: history arriving.
            Badge::Syncing => {
                (u.abs() < 0.035 && (-0.13..0.02).contains(&v))
                    || in_triangle((u, v), (-0.11, 0.0), (0.11, 0.0), (0.0, 0.13))
            }
            // Two bars.
            Badge::Paused => (0.03..0.085).contains(&u.abs()) && v.abs() < 0.11,
            // An exclamation mark.
            Badge::Attention => (u.abs() < 0.035 && (-0.14..0.04).contains(&v)) || circle(u, v, 0.0, 0.1, 0.037) <= 0.0,
            Badge::Connected | Badge::None => false,
        };
        if glyph {
            c = WHITE;
        }
    }
    c
}

/// Draw `shape` at `size` pixels, 4x4 samples per pixel.
fn draw(size: u32, shape: &dyn Fn(f32, f32) -> Color) -> RgbaImage {
    const N: u32 = 4;
    let mut img = RgbaImage::new(size, size);
    for py in 0..size {
        for px in 0..size {
            let mut acc = [0.0f32; 4];
            for sy in 0..N {
                for sx in 0..N {
                    let x = (px as f32 + (sx as f32 + 0.5) / N as f32) / size as f32;
                    let y = (py as f32 + (sy as f32 + 0.5) / N as f32) / size as f32;
                    let c = blend([0.0; 4], shape(x, y));
                    // Premultiplied accumulation.
                    for i in 0..3 {
                        acc[i] += c[i] * c[3];
                    }
                    acc[3] += c[3];
                }
            }
            let n = (N * N) as f32;
            let a = acc[3] / n;
            let px_color = if a > 0.0 {
                [acc[0] / acc[3], acc[1] / acc[3], acc[2] / acc[3], a]
            } else {
                [0.0; 4]
            };
            let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            img.put_pixel(px, py, Rgba(px_color.map(to8)));
        }
    }
    img
}

fn main() -> anyhow::Result<()> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../icons");
    std::fs::create_dir_all(&out)?;
    let app = |size| draw(size, &app_icon);
    for (name, size) in [
        ("32x32.png", 32),
        ("64x64.png", 64),
        ("128x128.png", 128),
        ("128x128@2x.png", 256),
        ("256x256.png", 256),
        ("icon.png", 512),
    ] {
        app(size).save(out.join(name))?;
    }
    // Windows: one .ico with the sizes Explorer and the taskbar use.
    let frames = [16, 24, 32, 48, 64, 256]
        .into_iter()
        .map(|s| {
            let img = app(s);
            image::codecs::ico::IcoFrame::as_png(img.as_raw(), s, s, image::ExtendedColorType::Rgba8)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let file = std::fs::File::create(out.join("icon.ico"))?;
    image::codecs::ico::IcoEncoder::new(file).encode_images(&frames)?;
    // macOS: .icns with the retina sizes.
    let mut family = icns::IconFamily::new();
    for size in [16, 32, 64, 128, 256, 512, 1024] {
        let img = app(size);
        let icon = icns::Image::from_data(icns::PixelFormat::RGBA, size, size, img.into_raw())?;
        family.add_icon(&icon)?;
    }
    family.write(std::io::BufWriter::new(std::fs::File::create(out.join("icon.icns"))?))?;
    // The tray, in each state (64 px: panels scale it down crisply).
    for (name, badge) in [
        ("tray.png", Badge::None),
        ("tray-connected.png", Badge::Connected),
        ("tray-syncing.png", Badge::Syncing),
        ("tray-paused.png", Badge::Paused),
        ("tray-attention.png", Badge::Attention),
    ] {
        draw(64, &|x, y| tray_icon(x, y, badge)).save(out.join(name))?;
    }
    println!("icons written to {}", out.display());
    Ok(())
}
