// The classes gen_vectors.py defines, mirrored in C# under the same qualified names, so that a registered
// Copyable's tag and an unregistered object's "deemed insecure" text match Twisted's bytes exactly.
#pragma warning disable IDE0130, CA1050
namespace pbvectors;

/// <summary>gen_vectors.py's Point (a pb.Copyable with x, y, label), registered as "pbvectors.Point".</summary>
public sealed class Point
{
    public int X { get; set; }
    public int Y { get; set; }
    public string? Label { get; set; }
}

/// <summary>The same Point with the extra attribute of the "copyable self reference" vector (p.me = p).</summary>
public sealed class SelfPoint
{
    public int X { get; set; }
    public int Y { get; set; }
    public string? Label { get; set; }
    public object? Me { get; set; }
}

/// <summary>gen_vectors.py's Plain: neither Jellyable nor registered.</summary>
public sealed class Plain
{
    public int A { get; set; } = 1;
    public string B { get; set; } = "two";
}
