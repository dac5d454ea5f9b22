using Pb.TypeScript;

namespace Pb.AspNetCore.Tests;

/// <summary>The TypeScript contracts the demo's page imports are what tools/Pb.TypeScript makes of the demo today.</summary>
public sealed class TypeScriptContractsTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pb.Web.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Pb.Web.sln not found above the test output.");
    }

    [Fact]
    public void The_committed_demo_contracts_are_up_to_date()
    {
        string committed = Path.Combine(RepositoryRoot(), "samples", "WebDemo", "client", "contracts.ts");
        string generated = TypeScriptContracts.Generate(typeof(WebDemo.Member).Assembly).ReplaceLineEndings("\n");
        Assert.True(File.ReadAllText(committed) == generated,
            "samples/WebDemo/client/contracts.ts is stale: run `dotnet run --project tools/Pb.TypeScript -- samples/WebDemo/bin/Release/net10.0/WebDemo.dll samples/WebDemo/client/contracts.ts`.");
    }

    [Fact]
    public void Methods_are_named_and_shaped_as_the_broker_binds_them()
    {
        string ts = TypeScriptContracts.Generate(typeof(WebDemo.Member).Assembly);
        // A Viewable's methods: the perspective is the server's, not a parameter of the peer.
        Assert.Contains("export interface RoomDesk {\n  bump(): number | bigint;\n  edit(id: number | bigint, text: string): void;\n  post(text: string): number | bigint;\n}", ts, StringComparison.Ordinal);
        // A record answer becomes an interface with its wire keys; a Cacheable is a RemoteCache, a Viewable a reference.
        Assert.Contains("export interface JoinedRoom {\n  readonly room: RemoteCache;\n  readonly desk: RemoteReference;\n}", ts, StringComparison.Ordinal);
        Assert.Contains("  rooms(): string[];", ts, StringComparison.Ordinal);
        Assert.DoesNotContain("Program", ts, StringComparison.Ordinal);
    }
}
