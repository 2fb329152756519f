//! A tiny writer of StableHLO text (the MLIR assembly that `jax.jit(...).lower(...).as_text()`
//! prints and that PJRT compiles): typed SSA values and one method per operation we use.
//!
//! Every method appends one line and returns the value it defines; shapes are worked out here,
//! so a caller cannot write an op whose printed type disagrees with its operands. Floating-point
//! constants are written as their bit patterns (`0x3F800000`), so no value is ever rounded by
//! printing and parsing.

use std::fmt::{self, Write};

/// Element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem {
    F32,
    I32,
    U32,
    U64,
    Bool,
}

impl Elem {
    fn mlir(self) -> &'static str {
        match self {
            Elem::F32 => "f32",
            Elem::I32 => "i32",
            Elem::U32 => "ui32",
            Elem::U64 => "ui64",
            Elem::Bool => "i1",
        }
    }

    /// The `compare` kind for this type.
    fn compare_kind(self) -> &'static str {
        match self {
            Elem::F32 => "FLOAT",
            Elem::I32 => "SIGNED",
            Elem::U32 | Elem::U64 | Elem::Bool => "UNSIGNED",
        }
    }
}

/// A tensor type: dimensions and element type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ty {
    pub dims: Vec<i64>,
    pub elem: Elem,
}

impl Ty {
    pub fn new(dims: &[i64], elem: Elem) -> Ty {
        Ty {
            dims: dims.to_vec(),
            elem,
        }
    }

    pub fn f32(dims: &[i64]) -> Ty {
        Ty::new(dims, Elem::F32)
    }

    fn with_elem(&self, elem: Elem) -> Ty {
        Ty::new(&self.dims, elem)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tensor<")?;
        for d in &self.dims {
            write!(f, "{d}x")?;
        }
        write!(f, "{}>", self.elem.mlir())
    }
}

/// An SSA value and its type.
#[derive(Clone, Debug)]
pub struct V {
    name: String,
    pub ty: Ty,
}

impl V {
    pub fn dims(&self) -> &[i64] {
        &self.ty.dims
    }
}

/// A constant's value.
#[derive(Clone, Copy, Debug)]
pub enum Lit {
    F32(f32),
    I32(i32),
    U32(u32),
}

/// Comparison directions.
#[derive(Clone, Copy, Debug)]
pub enum Cmp {
    Eq,
    Gt,
    Lt,
}

/// Convolution window and dimension layout, as StableHLO prints them.
pub struct Conv<'a> {
    /// e.g. `[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]`
    pub dims: &'a str,
    /// (before, after) per spatial axis.
    pub pad: (i64, i64),
    pub out: &'a [i64],
}

/// One function being written.
pub struct Func {
    args: Vec<String>,
    body: String,
    next: usize,
}

impl Func {
    pub fn new() -> Func {
        Func {
            args: Vec::new(),
            body: String::new(),
            next: 0,
        }
    }

    /// A new argument; `donate_to` makes the runtime reuse its buffer for that result.
    pub fn arg(&mut self, ty: Ty, donate_to: Option<usize>) -> V {
        let name = format!("%arg{}", self.args.len());
        let attr = donate_to
            .map(|i| format!(" {{tf.aliasing_output = {i} : i32}}"))
            .unwrap_or_default();
        self.args.push(format!("{name}: {ty}{attr}"));
        V { name, ty }
    }

    fn fresh(&mut self) -> String {
        self.next += 1;
        format!("%v{}", self.next)
    }

    /// Appends `%v = <text>` and returns `%v` with type `ty`.
    fn def(&mut self, ty: Ty, text: fmt::Arguments<'_>) -> V {
        let name = self.fresh();
        let _ = writeln!(self.body, "    {name} = {text}");
        V { name, ty }
    }

    /// The whole module, returning `results` in order.
    pub fn finish(self, module: &str, results: &[&V]) -> String {
        let names: Vec<&str> = results.iter().map(|v| v.name.as_str()).collect();
        let types: Vec<String> = results.iter().map(|v| v.ty.to_string()).collect();
        format!(
            "module @{module} attributes {{mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32}} {{\n  \
             func.func public @main({}) -> ({}) {{\n{}    return {} : {}\n  }}\n}}\n",
            self.args.join(", "),
            types.join(", "),
            self.body,
            names.join(", "),
            types.join(", ")
        )
    }

    /// A constant filling `dims`.
    pub fn constant(&mut self, lit: Lit, dims: &[i64]) -> V {
        let (text, elem) = match lit {
            Lit::F32(v) => (format!("0x{:08X}", v.to_bits()), Elem::F32),
            Lit::I32(v) => (v.to_string(), Elem::I32),
            Lit::U32(v) => (v.to_string(), Elem::U32),
        };
        let ty = Ty::new(dims, elem);
        self.def(
            ty.clone(),
            format_args!("stablehlo.constant dense<{text}> : {ty}"),
        )
    }

    pub fn f32(&mut self, v: f32, dims: &[i64]) -> V {
        self.constant(Lit::F32(v), dims)
    }

    /// Elementwise `op` on one operand (`exponential`, `log`, `sqrt`, `negate`).
    pub fn unary(&mut self, op: &str, a: &V) -> V {
        let ty = a.ty.clone();
        self.def(ty, format_args!("stablehlo.{op} {} : {}", a.name, a.ty))
    }

    /// Elementwise `op` on two operands of one type (`add`, `subtract`, `multiply`, `divide`,
    /// `maximum`, `power`, `and`, `or`, `shift_right_logical`).
    pub fn binary(&mut self, op: &str, a: &V, b: &V) -> V {
        assert_eq!(a.ty, b.ty, "stablehlo.{op} on different types");
        let ty = a.ty.clone();
        self.def(
            ty,
            format_args!("stablehlo.{op} {}, {} : {}", a.name, b.name, a.ty),
        )
    }

    pub fn add(&mut self, a: &V, b: &V) -> V {
        self.binary("add", a, b)
    }
    pub fn sub(&mut self, a: &V, b: &V) -> V {
        self.binary("subtract", a, b)
    }
    pub fn mul(&mut self, a: &V, b: &V) -> V {
        self.binary("multiply", a, b)
    }
    pub fn div(&mut self, a: &V, b: &V) -> V {
        self.binary("divide", a, b)
    }

    pub fn compare(&mut self, dir: Cmp, a: &V, b: &V) -> V {
        assert_eq!(a.ty, b.ty, "stablehlo.compare on different types");
        let dir = match dir {
            Cmp::Eq => "EQ",
            Cmp::Gt => "GT",
            Cmp::Lt => "LT",
        };
        let ty = a.ty.with_elem(Elem::Bool);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.compare {dir}, {}, {}, {} : ({}, {}) -> {ty}",
                a.name,
                b.name,
                a.ty.elem.compare_kind(),
                a.ty,
                b.ty
            ),
        )
    }

    /// `pred ? a : b`, elementwise.
    pub fn select(&mut self, pred: &V, a: &V, b: &V) -> V {
        assert_eq!(a.ty, b.ty, "stablehlo.select on different types");
        assert_eq!(pred.ty.dims, a.ty.dims, "stablehlo.select predicate shape");
        let ty = a.ty.clone();
        self.def(
            ty,
            format_args!(
                "stablehlo.select {}, {}, {} : {}, {}",
                pred.name, a.name, b.name, pred.ty, a.ty
            ),
        )
    }

    /// Broadcasts `a` to `dims`; operand dimension i becomes result dimension `map[i]`.
    pub fn broadcast(&mut self, a: &V, map: &[i64], dims: &[i64]) -> V {
        let ty = Ty::new(dims, a.ty.elem);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.broadcast_in_dim {}, dims = {} : ({}) -> {ty}",
                a.name,
                list(map),
                a.ty
            ),
        )
    }

    /// A scalar splat to `dims` (a constant of that shape).
    pub fn splat(&mut self, v: f32, dims: &[i64]) -> V {
        self.f32(v, dims)
    }

    pub fn reshape(&mut self, a: &V, dims: &[i64]) -> V {
        let ty = Ty::new(dims, a.ty.elem);
        self.def(
            ty.clone(),
            format_args!("stablehlo.reshape {} : ({}) -> {ty}", a.name, a.ty),
        )
    }

    pub fn reverse(&mut self, a: &V, axes: &[i64]) -> V {
        let ty = a.ty.clone();
        self.def(
            ty,
            format_args!(
                "stablehlo.reverse {}, dims = {} : {}",
                a.name,
                list(axes),
                a.ty
            ),
        )
    }

    /// The leading `dims[i]` elements of `a` on every axis.
    pub fn slice(&mut self, a: &V, dims: &[i64]) -> V {
        let ranges: Vec<String> = dims.iter().map(|d| format!("0:{d}")).collect();
        let ty = Ty::new(dims, a.ty.elem);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.slice {} [{}] : ({}) -> {ty}",
                a.name,
                ranges.join(", "),
                a.ty
            ),
        )
    }

    /// Pads `a` with zeros after its data, up to `dims`.
    pub fn pad_after(&mut self, a: &V, dims: &[i64]) -> V {
        let zero = self.f32(0.0, &[]);
        let low = vec![0; dims.len()];
        let high: Vec<i64> = dims.iter().zip(a.dims()).map(|(d, s)| d - s).collect();
        let ty = Ty::new(dims, a.ty.elem);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.pad {}, {}, low = {}, high = {}, interior = {} : ({}, tensor<f32>) -> {ty}",
                a.name,
                zero.name,
                list(&low),
                list(&high),
                list(&low),
                a.ty
            ),
        )
    }

    pub fn convert(&mut self, a: &V, elem: Elem) -> V {
        let ty = a.ty.with_elem(elem);
        self.def(
            ty.clone(),
            format_args!("stablehlo.convert {} : ({}) -> {ty}", a.name, a.ty),
        )
    }

    pub fn bitcast(&mut self, a: &V, elem: Elem) -> V {
        let ty = a.ty.with_elem(elem);
        self.def(
            ty.clone(),
            format_args!("stablehlo.bitcast_convert {} : ({}) -> {ty}", a.name, a.ty),
        )
    }

    pub fn iota(&mut self, axis: i64, ty: Ty) -> V {
        self.def(
            ty.clone(),
            format_args!("stablehlo.iota dim = {axis} : {ty}"),
        )
    }

    /// Reduces `axes` of `a` with `op` (`add`, `maximum`, `minimum`) from `init`.
    pub fn reduce(&mut self, op: &str, a: &V, init: Lit, axes: &[i64]) -> V {
        let init = self.constant(init, &[]);
        assert_eq!(init.ty.elem, a.ty.elem, "reduce init type");
        let dims: Vec<i64> = (0..a.ty.dims.len() as i64)
            .filter(|d| !axes.contains(d))
            .map(|d| a.ty.dims[d as usize])
            .collect();
        let ty = Ty::new(&dims, a.ty.elem);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.reduce({} init: {}) applies stablehlo.{op} across dimensions = {} : \
                 ({}, {}) -> {ty}",
                a.name,
                init.name,
                list(axes),
                a.ty,
                init.ty
            ),
        )
    }

    pub fn sum(&mut self, a: &V, axes: &[i64]) -> V {
        let zero = match a.ty.elem {
            Elem::F32 => Lit::F32(0.0),
            _ => Lit::I32(0),
        };
        self.reduce("add", a, zero, axes)
    }

    /// `dot_general` without batch dimensions: contracts `lhs_axes` of `a` with `rhs_axes` of
    /// `b`; the result has `a`'s free axes then `b`'s.
    pub fn dot(&mut self, a: &V, b: &V, lhs_axes: &[i64], rhs_axes: &[i64]) -> V {
        let free = |v: &V, axes: &[i64]| -> Vec<i64> {
            (0..v.ty.dims.len() as i64)
                .filter(|d| !axes.contains(d))
                .map(|d| v.ty.dims[d as usize])
                .collect()
        };
        let mut dims = free(a, lhs_axes);
        dims.extend(free(b, rhs_axes));
        let ty = Ty::f32(&dims);
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.dot_general {}, {}, contracting_dims = {} x {}, \
                 precision = [DEFAULT, DEFAULT] : ({}, {}) -> {ty}",
                a.name,
                b.name,
                list(lhs_axes),
                list(rhs_axes),
                a.ty,
                b.ty
            ),
        )
    }

    /// A stride-1 convolution with the given dimension layout.
    pub fn convolution(&mut self, lhs: &V, rhs: &V, conv: Conv<'_>) -> V {
        let ty = Ty::f32(conv.out);
        let (lo, hi) = conv.pad;
        self.def(
            ty.clone(),
            format_args!(
                "stablehlo.convolution({}, {}) dim_numbers = {}, window = {{stride = [1, 1], \
                 pad = [[{lo}, {hi}], [{lo}, {hi}]], lhs_dilate = [1, 1], rhs_dilate = [1, 1], \
                 reverse = [false, false]}} {{batch_group_count = 1 : i64, \
                 feature_group_count = 1 : i64, precision_config = [#stablehlo<precision \
                 DEFAULT>, #stablehlo<precision DEFAULT>]}} : ({}, {}) -> {ty}",
                lhs.name, rhs.name, conv.dims, lhs.ty, rhs.ty
            ),
        )
    }

    /// Max over `size`×`size` windows moved by `stride` on axes 1 and 2 of an NHWC tensor
    /// (no padding: floor mode), starting from -∞ like `flax.linen.max_pool`.
    pub fn max_pool(&mut self, a: &V, size: i64, stride: i64, out: &[i64]) -> V {
        let init = self.f32(f32::NEG_INFINITY, &[]);
        let (x, y, r) = (self.fresh(), self.fresh(), self.fresh());
        let ty = Ty::f32(out);
        self.def(
            ty.clone(),
            format_args!(
                "\"stablehlo.reduce_window\"({}, {}) <{{window_dimensions = array<i64: 1, {size}, \
                 {size}, 1>, window_strides = array<i64: 1, {stride}, {stride}, 1>}}> ({{\n    \
                 ^bb0({x}: tensor<f32>, {y}: tensor<f32>):\n      \
                 {r} = stablehlo.maximum {x}, {y} : tensor<f32>\n      \
                 stablehlo.return {r} : tensor<f32>\n    }}) : ({}, tensor<f32>) -> {ty}",
                a.name, init.name, a.ty
            ),
        )
    }

    /// The gradient of [`Func::max_pool`]: each window's `source` value goes to the first
    /// position (row-major) holding the window's maximum of `input` — what JAX's autodiff of
    /// `reduce_window` max emits.
    pub fn max_pool_grad(&mut self, input: &V, source: &V, size: i64, stride: i64) -> V {
        let zero = self.f32(0.0, &[]);
        let (a, b, c, d, s, t) = (
            self.fresh(),
            self.fresh(),
            self.fresh(),
            self.fresh(),
            self.fresh(),
            self.fresh(),
        );
        let ty = input.ty.clone();
        self.def(
            ty.clone(),
            format_args!(
                "\"stablehlo.select_and_scatter\"({}, {}, {}) <{{window_dimensions = \
                 array<i64: 1, {size}, {size}, 1>, window_strides = array<i64: 1, {stride}, \
                 {stride}, 1>}}> ({{\n    ^bb0({a}: tensor<f32>, {b}: tensor<f32>):\n      \
                 {s} = stablehlo.compare GE, {a}, {b}, FLOAT : (tensor<f32>, tensor<f32>) -> \
                 tensor<i1>\n      stablehlo.return {s} : tensor<i1>\n    }}, {{\n    \
                 ^bb0({c}: tensor<f32>, {d}: tensor<f32>):\n      \
                 {t} = stablehlo.add {c}, {d} : tensor<f32>\n      \
                 stablehlo.return {t} : tensor<f32>\n    }}) : ({}, {}, tensor<f32>) -> {ty}",
                input.name, source.name, zero.name, input.ty, source.ty
            ),
        )
    }

    /// `(new state, bits)` from XLA's Philox generator.
    pub fn random_bits(&mut self, state: &V, dims: &[i64]) -> (V, V) {
        let (s, b) = (self.fresh(), self.fresh());
        let bits = Ty::new(dims, Elem::U32);
        let _ = writeln!(
            self.body,
            "    {s}, {b} = stablehlo.rng_bit_generator {}, algorithm = PHILOX : ({}) -> ({}, {bits})",
            state.name, state.ty, state.ty
        );
        (
            V {
                name: s,
                ty: state.ty.clone(),
            },
            V { name: b, ty: bits },
        )
    }
}

fn list(values: &[i64]) -> String {
    let items: Vec<String> = values.iter().map(i64::to_string).collect();
    format!("[{}]", items.join(", "))
}
