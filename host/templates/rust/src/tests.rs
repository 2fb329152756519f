//! Unit tests with plugin-api's test kit (`plugin_api::testing`, a dev-dependency feature):
//! a session over synthetic digits, the host's steps, and the protocol's checks.

use plugin_api::testing::{expect_refusal, SessionBuilder};
use plugin_api::ErrorKind;

use super::new_trainer;

#[test]
fn follows_the_protocol_and_learns() {
    // 150 = 4 batches of 32 and a partial one of 22; three epochs.
    let builder = SessionBuilder::synthetic(150, 40)
        .plugin_name("{{name}}")
        .batch_size(32)
        .epochs(3);
    let mut trainer = new_trainer(&builder.session()).expect("a trainer");
    // Takes the trainer through the host's steps and checks the protocol on the way.
    let run = builder.run(&mut trainer);
    assert!(
        run.losses[2] < run.losses[0],
        "the loss falls: {:?}",
        run.losses
    );
    assert!(run.eval.accuracy > 0.5, "accuracy {}", run.eval.accuracy);
}

#[test]
fn refuses_what_it_cannot_do() {
    let builder = SessionBuilder::synthetic(10, 10).option("colour", "blue");
    let error = expect_refusal(new_trainer(&builder.session()));
    assert!(error.message.contains("colour"), "{error}");

    let builder = SessionBuilder::synthetic(10, 10).device("cuda:0");
    let error = expect_refusal(new_trainer(&builder.session()));
    assert_eq!(error.kind, ErrorKind::Unsupported, "{error}");
}
