//! The PJRT layer on its own: load the CPU plugin, compile StableHLO, execute with donation,
//! and turn the plugin's errors into messages.

use plugin_xla::pjrt::{compile_options, compile_options::Override, Api, Client};
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

fn client() -> Client {
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    Client::new(api, 1).expect("client")
}

#[test]
fn compiles_and_runs_with_donation() {
    let api = Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).expect("load");
    assert_eq!(api.version().0, 0);
    assert!(api.version().1 >= 81, "{:?}", api.version());
    let attributes = api.attributes().expect("attributes");
    assert!(
        attributes
            .iter()
            .any(|(k, _)| k == "stablehlo_current_version"),
        "{attributes:?}"
    );
    // Loading again returns the same plugin; another file is refused.
    assert!(std::ptr::eq(
        api,
        Api::load(Path::new(plugin_xla::PJRT_LIBRARY)).unwrap()
    ));
    let other = Api::load(Path::new("/nonexistent/xla_cpu_pjrt.so"))
        .err()
        .unwrap();
    assert!(other.message.contains("already loaded"), "{other}");

    let client = client();
    let exe = client
        .compile(ADD, &compile_options::encode(&[]))
        .expect("compile");
    assert_eq!(exe.outputs(), 2);
    let a = client.buffer(&[1f32, 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
    let b = client.buffer(&[10f32; 6], &[2, 3]).unwrap();
    let out = exe.execute(&[&a, &b]).expect("execute");
    assert_eq!(out[0].dims().unwrap(), vec![2, 3]);
    assert_eq!(
        out[0].to_host::<f32>().unwrap(),
        vec![11., 12., 13., 14., 15., 16.]
    );
    assert_eq!(out[1].scalar::<f32>().unwrap(), 60.);
    assert!(out[0].scalar::<f32>().is_err(), "six values are no scalar");
    // `a` was donated: a second use is an error, not a crash.
    let again = exe
        .execute(&[&a, &b])
        .err()
        .expect("a donated buffer is gone");
    assert!(again.message.contains("donated"), "{again}");
    // `b` was not donated and still reads back.
    assert_eq!(b.to_host::<f32>().unwrap(), vec![10.; 6]);
}

#[test]
fn errors_carry_the_plugins_message() {
    let client = client();
    let err = client.buffer(&[1f32, 2.], &[3]).err().unwrap();
    assert!(err.message.contains("do not fill"), "{err}");
    let err = client
        .compile("module @m { not stablehlo }", &compile_options::encode(&[]))
        .err()
        .unwrap();
    assert!(err.code != 0 && !err.message.is_empty(), "{err:?}");
}

#[test]
fn compile_overrides_reach_xla() {
    let client = client();
    let known = [Override::Bool("xla_cpu_multi_thread_eigen", false)];
    client
        .compile(ADD, &compile_options::encode(&known))
        .expect("a known debug option is accepted");
    // An unknown one is refused, which shows the overrides are read at all.
    let unknown = [Override::Bool("xla_no_such_flag", false)];
    let err = client
        .compile(ADD, &compile_options::encode(&unknown))
        .err()
        .expect("an unknown debug option is refused");
    assert!(err.message.contains("xla_no_such_flag"), "{err}");
}
