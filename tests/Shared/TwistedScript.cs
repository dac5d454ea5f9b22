using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;

namespace Pb.Tests;

/// <summary>
/// Runs a script of <c>python/</c> with Debian's <c>/usr/bin/python3</c> (the interpreter that has python3-twisted)
/// and returns its JSON-lines output. A missing interpreter, a missing Twisted, a non-zero exit or a timeout fails
/// the test with the reason: this suite never skips, because real Twisted is the judge of compatibility.
/// </summary>
internal static class TwistedScript
{
    public const string Python = "/usr/bin/python3";

    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    /// <summary>Runs <paramref name="script"/> with <paramref name="arguments"/>, feeding it <paramref name="input"/> lines.</summary>
    public static async Task<IReadOnlyList<JsonElement>> RunAsync(string script, IEnumerable<string> arguments, IEnumerable<string> input, CancellationToken cancellationToken)
    {
        ScriptResult result = await RunUncheckedAsync(script, arguments, input, cancellationToken);
        Assert.True(result.ExitCode == 0, $"{Python} {script} exited with {result.ExitCode}:{Environment.NewLine}{result.Stderr}");
        return result.Lines;
    }

    /// <summary>What a script printed (JSON lines), its exit code and its stderr.</summary>
    public sealed record ScriptResult(IReadOnlyList<JsonElement> Lines, int ExitCode, string Stderr);

    /// <summary>Like <see cref="RunAsync"/>, but returns the exit code instead of asserting it is 0.</summary>
    public static async Task<ScriptResult> RunUncheckedAsync(string script, IEnumerable<string> arguments, IEnumerable<string> input, CancellationToken cancellationToken)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "python", script);
        Assert.True(File.Exists(path), $"{path} is missing: the project copies python/*.py to the output.");
        Assert.True(File.Exists(Python), $"{Python} is missing. This suite needs Debian's python3 with python3-twisted (./build.sh test installs it).");

        var start = new ProcessStartInfo(Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-I"); // isolated: no PYTHON* variables, no user site-packages
        start.ArgumentList.Add(path);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        string command = string.Join(' ', start.ArgumentList);

        using var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            Assert.Fail($"Could not start {Python} {command}: {e.Message}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(s_timeout);
        // Read both pipes while writing, so a full pipe can never deadlock the two processes.
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        Task<string> stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            try
            {
                foreach (string line in input)
                {
                    await process.StandardInput.WriteLineAsync(line.AsMemory(), timeout.Token);
                }
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The script exited early; its exit code and stderr below say why.
            }
            await process.WaitForExitAsync(timeout.Token);
            await Task.WhenAll(stdout, stderr);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            cancellationToken.ThrowIfCancellationRequested();
            Assert.Fail($"{Python} {command} did not finish within {s_timeout.TotalSeconds} s; it was killed.");
        }

        var lines = new List<JsonElement>();
        foreach (string line in (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            using JsonDocument document = JsonDocument.Parse(line);
            lines.Add(document.RootElement.Clone());
        }
        return new ScriptResult(lines, process.ExitCode, await stderr);
    }

    /// <summary>
    /// Asserts that a scenario script (pb_*_client.py) passed every case: the failing cases and the script's stderr in
    /// the message, then the summary count and the exit code.
    /// </summary>
    public static void AssertScenarioPassed(ScriptResult result, int expectedCases)
    {
        var failures = result.Lines
            .Where(l => l.TryGetProperty("case", out _) && !l.GetProperty("ok").GetBoolean())
            .Select(l => $"{l.GetProperty("case").GetString()}: {l.GetProperty("detail").GetString()}")
            .ToList();
        Assert.True(failures.Count == 0, "Twisted client cases failed:" + Environment.NewLine + string.Join(Environment.NewLine, failures) + Environment.NewLine + result.Stderr);
        JsonElement summary = result.Lines.Single(l => l.TryGetProperty("summary", out _)).GetProperty("summary");
        Assert.Equal(expectedCases, summary.GetProperty("passed").GetInt32());
        Assert.Equal(0, result.ExitCode);
    }

    /// <summary>One JSON-lines request: an index and the value's bytes in both dialects, as lowercase hex.</summary>
    public static string Request(int index, byte[] pb, byte[] none) =>
        JsonSerializer.Serialize(new { index, pb = Convert.ToHexStringLower(pb), none = Convert.ToHexStringLower(none) });
}
