fn main() -> std::process::ExitCode {
    tokenbroker::cli::main()
}
