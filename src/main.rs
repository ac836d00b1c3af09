fn main() -> std::process::ExitCode {
    chaosplay::cli::main()
}
