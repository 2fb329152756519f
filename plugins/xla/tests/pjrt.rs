//! The PJRT layer on its own: load the CPU plugin, compile StableHLO, execute with donation.

use plugin_xla::pjrt::{compile_options, Api, Client};
use std::path::Path;

const ADD: &str = r#"
module @m {
  func.func public @main(%a: tensor<2x3xf32> {tf.aliasing_output = 0 : i32}, %b: tensor<2x3xf32>) -> (tensor<2x3xf32>, tensor<f32>) {
    %0 = stablehlo.add %a, %b : tensor<2x3xf32>
    %z = stablehlo.constant dense<0x00000000> : tensor<f32>
    %1 = stablehlo.reduce(%b init: %z) applies stablehlo.add across dimensions = [0, 1] : (tensor<2x3xf32>, tensor<f32>) -> tensor<f32>
    return %0, %1 : tensor<2x3xf32>, tensor<f32>
  }
}
"#;

#[test]
fn compiles_and_runs_with_donation() {
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    println!("api {:?}", api.version());
    for (k, v) in api.attributes().unwrap() {
        println!("attr {k} = {v}");
    }
    let client = Client::new(api, 1).expect("client");
    println!("platform {:?}", client.platform_version());
    let exe = client
        .compile(ADD, &compile_options::encode(&[]))
        .expect("compile");
    assert_eq!(exe.outputs(), 2);
    let a = client.buffer(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
    let b = client.buffer(&[10f32; 6], &[2, 3]).unwrap();
    let out = exe.execute(&[&a, &b]).expect("execute");
    assert_eq!(out[0].to_host::<f32>().unwrap(), vec![11., 12., 13., 14., 15., 16.]);
    assert_eq!(out[1].scalar::<f32>().unwrap(), 60.);
    // `a` was donated: a second use is an error, not a crash.
    let again = exe.execute(&[&a, &b]);
    println!("{:?}", again.as_ref().err());
    assert!(again.is_err());
}

#[test]
fn compile_overrides_are_checked() {
    use compile_options::Override;
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    let client = Client::new(api, 1).expect("client");
    let ok = client.compile(ADD, &compile_options::encode(&[Override::Bool("xla_cpu_multi_thread_eigen", false)]));
    println!("ok: {:?}", ok.as_ref().err());
    let bad = client.compile(ADD, &compile_options::encode(&[Override::Bool("xla_no_such_flag", false)]));
    println!("bad: {:?}", bad.as_ref().err());
}
