using System.Diagnostics;
using static Pb.Redis.Tests.ReplicationTests;

namespace Pb.Redis.Tests;

/// <summary>Nodes as separate processes (ReplicaNode), as a load balancer's backends run: one room across them, one killed.</summary>
[Collection(RedisTests.Name)]
public sealed class TwoProcessTests(RedisServer redis)
{
    private sealed class NodeProcess : IAsyncDisposable
    {
        private readonly Process _process;

        private NodeProcess(Process process, Uri ws)
        {
            _process = process;
            Ws = ws;
        }

        public Uri Ws { get; }

        public static async Task<NodeProcess> StartAsync(RedisServer redis, string prefix)
        {
            // bin/<Configuration>/net10.0 of this project -> the same of ReplicaNode, built with it
            string dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "ReplicaNode", "bin",
                new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "ReplicaNode.dll"));
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in new[] { dll, "--redis", redis.Configuration, "--prefix", prefix })
            {
                start.ArgumentList.Add(arg);
            }
            var process = Process.Start(start)!;
            process.ErrorDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (line.StartsWith("READY port=", StringComparison.Ordinal))
                {
                    int port = int.Parse(line["READY port=".Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                    return new NodeProcess(process, new Uri($"ws://127.0.0.1:{port}/pb"));
                }
            }
            throw new InvalidOperationException($"{dll} exited before it was ready (exit code {process.ExitCode}).");
        }

        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        public ValueTask DisposeAsync()
        {
            Kill();
            _process.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    [Fact]
    public async Task Two_node_processes_share_one_room_and_a_node_killed_mid_stream_loses_nothing_for_the_others()
    {
        string prefix = "p" + Guid.NewGuid().ToString("N")[..12];
        await using NodeProcess a = await NodeProcess.StartAsync(redis, prefix);
        await using NodeProcess b = await NodeProcess.StartAsync(redis, prefix);
        (PbClient clientA, RemoteReference rootA, RoomCopy copyA) = await Node.ObserveAsync(a.Ws);
        (PbClient clientB, RemoteReference rootB, RoomCopy copyB) = await Node.ObserveAsync(b.Ws);
        await using (clientB)
        {
            // a change through A reaches a client of B, and the other way round
            await rootA.CallRemoteAsync<long>("post", "from A");
            await rootB.CallRemoteAsync<long>("post", "from B");
            await EventuallyAsync(() => copyA.Read().Sequence == 2 && copyB.Read().Sequence == 2, () => $"{copyA.Read().Sequence} {copyB.Read().Sequence}");
            Assert.Equal(["from A", "from B"], copyB.Read().Messages);
            Assert.Equal(["from A", "from B"], copyA.Read().Messages);

            // both write at once; then A is killed (SIGKILL) while B goes on
            await Task.WhenAll(
                Task.Run(async () => { for (int i = 0; i < 50; i++) await rootA.CallRemoteAsync<long>("post", $"a{i}"); }, TestContext.Current.CancellationToken),
                Task.Run(async () => { for (int i = 0; i < 50; i++) await rootB.CallRemoteAsync<long>("post", $"b{i}"); }, TestContext.Current.CancellationToken));
            await EventuallyAsync(() => copyA.Read().Sequence == 102 && copyB.Read().Sequence == 102, () => $"{copyA.Read().Sequence} {copyB.Read().Sequence}");
            Assert.Equal(copyA.Read().Messages, copyB.Read().Messages);
            a.Kill();
            await clientA.DisposeAsync();
            for (int i = 0; i < 30; i++)
            {
                await rootB.CallRemoteAsync<long>("post", $"after A died {i}");
            }
            await EventuallyAsync(() => copyB.Read().Sequence == 132, () => $"{copyB.Read().Sequence}");
            Assert.Empty(copyA.Violations);
            Assert.Empty(copyB.Violations);

            // A's replacement, another process, starts late and has it all
            await using NodeProcess replacement = await NodeProcess.StartAsync(redis, prefix);
            (PbClient clientC, _, RoomCopy copyC) = await Node.ObserveAsync(replacement.Ws);
            await using (clientC)
            {
                Assert.Equal(132, copyC.Read().Sequence);
                Assert.Equal(copyB.Read().Messages, copyC.Read().Messages);
            }
        }
    }
}
