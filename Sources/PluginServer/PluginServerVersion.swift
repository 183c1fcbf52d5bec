/// The one place the version is written: `--version`, the Redis version key, `$lib_version` of
/// plugin captures, Sentry's release and the `make dist` archive name all read it.
public enum PluginServerVersion {
    /// The plugin server release whose behaviour this server reproduces, and this server's version.
    public static let compatible = "0.20.3"
    public static let banner = "@posthog/plugin-server v\(compatible) (Swift)"
}
