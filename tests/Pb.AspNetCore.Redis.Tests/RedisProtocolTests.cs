using System.Text;
using StackExchange.Redis;

namespace Pb.Redis.Tests;

/// <summary>The published change's header is read in place; anything malformed is refused (the replica repairs from the log).</summary>
public sealed class RedisProtocolTests
{
    private static RedisValue Message(string header, params byte[] arguments) => (RedisValue)Encoding.ASCII.GetBytes(header + "\n").Concat(arguments).ToArray();

    [Fact]
    public void A_published_change_is_read_with_its_epoch_number_time_name_and_arguments()
    {
        Assert.True(RedisProtocol.TryReadMessage(Message("3f2a 42 1733333333333 post", 1, 2, 3), out Change change));
        Assert.Equal(new Change("3f2a", 42, "post", change.Arguments, 1733333333333), change);
        Assert.Equal([1, 2, 3], change.Arguments.ToArray());
    }

    [Theory]
    [InlineData("3f2a 42 1733333333333")]            // no change name
    [InlineData("3f2a 42 1733333333333 ")]           // an empty one
    [InlineData("3f2a 42 1733333333333 post extra")] // five fields
    [InlineData("3f2a x 1733333333333 post")]        // a sequence number that is none
    [InlineData("3f2a 42 y post")]
    [InlineData(" 42 1733333333333 post")]           // no epoch
    [InlineData("3f2a")]
    public void A_malformed_header_is_refused(string header) => Assert.False(RedisProtocol.TryReadMessage(Message(header), out _));

    [Fact]
    public void A_message_without_a_header_line_is_refused()
    {
        Assert.False(RedisProtocol.TryReadMessage((RedisValue)Encoding.ASCII.GetBytes("3f2a 42 1 post"), out _));
        Assert.False(RedisProtocol.TryReadMessage(RedisValue.Null, out _));
    }
}
