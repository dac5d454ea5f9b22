using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace Pb.Redis.Tests;

/// <summary>
/// A real redis-server of our own on a free 127.0.0.1 port, persistence off (so a restart loses every key, as the
/// epoch tests need), started for the test collection and stopped after it. The test command installs Debian's
/// redis-server when it is missing.
/// </summary>
public sealed class RedisServer : IAsyncLifetime
{
    private Process? _process;
    private ConnectionMultiplexer? _admin;

    public int Port { get; } = FreePort();

    /// <summary>The connection string nodes use.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public async ValueTask InitializeAsync()
    {
        await StartAsync();
        _admin = await ConnectionMultiplexer.ConnectAsync($"{Configuration},allowAdmin=true,abortConnect=false");
    }

    private async Task StartAsync()
    {
        const string binary = "/usr/bin/redis-server";
        if (!File.Exists(binary))
        {
            throw new InvalidOperationException("redis-server is missing: ./build.sh test installs Debian's redis-server (apt-get install redis-server).");
        }
        var start = new ProcessStartInfo(binary)
        {
            ArgumentList = { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }
        throw new TimeoutException($"redis-server did not listen on {Port}.");
    }

    /// <summary>Kills the server and starts it again on the same port: every key is gone.</summary>
    public async Task RestartAsync()
    {
        await KillAsync();
        await StartAsync();
    }

    /// <summary>Kills the server (start it again with <see cref="StartAgainAsync"/>).</summary>
    public async Task KillAsync()
    {
        _process!.Kill();
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    /// <summary>Starts the server again on the same port, with no data.</summary>
    public Task StartAgainAsync() => StartAsync();

    /// <summary>Runs a command as an administrator (CLIENT KILL, CLIENT PAUSE, DEBUG...).</summary>
    public async Task<RedisResult> ExecuteAsync(string command, params object[] args)
    {
        IServer server = _admin!.GetServer(_admin.GetEndPoints()[0]);
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await server.ExecuteAsync(command, args);
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                await Task.Delay(100); // the admin connection reconnects after a restart
            }
        }
    }

    /// <summary>A database connection for checks the tests make themselves.</summary>
    public IDatabase Database => _admin!.GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null)
        {
            await _admin.CloseAsync();
            _admin.Dispose();
        }
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[CollectionDefinition(Name)]
public sealed class RedisTests : ICollectionFixture<RedisServer>
{
    public const string Name = "redis";
}
