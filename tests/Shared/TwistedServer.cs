using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace Pb.Tests;

/// <summary>
/// A Twisted PB server script running beside the test (python/pb_interop_server.py): started with port 0, ready once
/// it prints <c>READY port=N</c>, stopped by closing its stdin (it exits on EOF) or killed after 5 s. Its stderr is
/// drained all the time, so a chatty log never blocks it.
/// </summary>
internal sealed class TwistedServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private TwistedServer(Process process) => _process = process;

    public int Port { get; private set; }

    public string Log
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static async Task<TwistedServer> StartAsync(string script, CancellationToken cancellationToken)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "python", script);
        Assert.True(File.Exists(TwistedScript.Python), $"{TwistedScript.Python} is missing. This suite needs Debian's python3 with python3-twisted (./build.sh test installs it).");
        var start = new ProcessStartInfo(TwistedScript.Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-I", path, "--port", "0", "--lifetime", "120" })
        {
            start.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = start };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            Assert.Fail($"Could not start {TwistedScript.Python} {script}: {e.Message}");
        }
        var server = new TwistedServer(process);
        process.ErrorDataReceived += (_, e) =>
        {
            lock (server._stderr)
            {
                server._stderr.AppendLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            line = null;
        }
        if (line is null || !line.StartsWith("READY port=", StringComparison.Ordinal))
        {
            await server.DisposeAsync();
            Assert.Fail($"{script} did not become ready (first line: {line ?? "none"}):{Environment.NewLine}{server.Log}");
        }
        server.Port = int.Parse(line!["READY port=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or IOException)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
        }
        _process.Dispose();
    }
}
