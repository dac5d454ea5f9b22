using System.Diagnostics;
using System.Globalization;


namespace Pb.Tests.Fuzzing;

/// <summary>
/// Runs the mutation fuzzer over each target: 300,000 inputs each by default (deterministic seeds). The long run,
/// bench/run-fuzz.sh, sets PB_FUZZ_INPUTS (inputs per target) and PB_FUZZ_REPORT (a file for the figures).
/// </summary>
public sealed class FuzzTests
{
    private const long DefaultInputs = 300_000;

    private static long Inputs =>
        long.TryParse(Environment.GetEnvironmentVariable("PB_FUZZ_INPUTS"), NumberStyles.None, CultureInfo.InvariantCulture, out long n) && n > 0 ? n : DefaultInputs;

    private static void Run(string name, int seed, Func<byte[], string> target)
    {
        var fuzzer = new Fuzzer(seed, Fuzzer.LoadSeeds());
        long inputs = Inputs;
        var clock = Stopwatch.StartNew();
        FuzzFailure? failure = fuzzer.Run(inputs, target);
        clock.Stop();
        string status = failure is null ? "no failure" : $"FAILURE {failure.Message} input(base64)={Convert.ToBase64String(failure.Input)}";
        string line = FormattableString.Invariant(
            $"{name}: {inputs} inputs in {clock.Elapsed.TotalSeconds:F1} s ({inputs / clock.Elapsed.TotalSeconds:F0} inputs/s), {fuzzer.DistinctOutcomes} distinct outcomes, corpus {fuzzer.CorpusSize}, {status}");
        if (Environment.GetEnvironmentVariable("PB_FUZZ_REPORT") is { Length: > 0 } report)
        {
            File.AppendAllText(report, line + Environment.NewLine);
        }
        Assert.True(failure is null, line);
        Assert.True(fuzzer.DistinctOutcomes > 20, line);
    }

    [Fact]
    public void Banana_parser_and_reader() => Run("banana", 1, FuzzTargets.Banana);

    [Fact]
    public void Unjellier() => Run("unjelly", 2, FuzzTargets.Unjelly);

    [Fact]
    public void Broker_message_handling() => Run("broker", 3, FuzzTargets.Broker);
}
