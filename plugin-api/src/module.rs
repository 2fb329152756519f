//! The root module every plugin library exports, and the macro that exports it.

use abi_stable::{
    declare_root_module_statics, library::RootModule, package_version_strings,
    sabi_types::VersionStrings, std_types::RResult, StableAbi,
};

use crate::report::{PluginError, PluginInfo};
use crate::session::Session;
use crate::trainer::TrainerBox;

/// The plugin's entry points. A prefix type: fields can be appended in later interface
/// versions without breaking plugins built against earlier ones.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Static facts about the plugin.
    pub info: extern "C" fn() -> PluginInfo,
    /// Builds a trainer for `session`; it may borrow the session's data.
    #[sabi(last_prefix_field)]
    pub new_trainer: for<'a> extern "C" fn(&Session<'a>) -> RResult<TrainerBox<'a>, PluginError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "plugin";
    const NAME: &'static str = "joulebench plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// Exports a plugin's root module. Give it two functions:
///
/// - `info: fn() -> PluginInfo`
/// - `new_trainer: for<'a> fn(&Session<'a>) -> Result<TrainerBox<'a>, PluginError>`
///
/// Both are called under `catch_unwind`; a panic in `info` aborts loading with a clear error
/// in the host, a panic in `new_trainer` becomes a `PluginError`.
///
/// ```text
/// plugin_api::export_plugin! { info: my_info, new_trainer: my_new_trainer }
/// ```
#[macro_export]
macro_rules! export_plugin {
    (info: $info:path, new_trainer: $new_trainer:path $(,)?) => {
        #[$crate::abi_stable::export_root_module]
        pub fn __joulebench_root_module() -> $crate::PluginModRef {
            extern "C" fn __info() -> $crate::PluginInfo {
                $crate::guard::catch_panic_or($info, $crate::PluginInfo::panicked())
            }
            extern "C" fn __new_trainer<'a>(
                session: &$crate::Session<'a>,
            ) -> $crate::abi_stable::std_types::RResult<$crate::TrainerBox<'a>, $crate::PluginError>
            {
                $crate::guard::catch_panic(|| $new_trainer(session))
            }
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            $crate::PluginMod {
                info: __info,
                new_trainer: __new_trainer,
            }
            .leak_into_prefix()
        }
    };
}
