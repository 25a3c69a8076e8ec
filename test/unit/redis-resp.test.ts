// The Redis sink's RESP2 encoding and reply reading (sinks/redis/resp.ts), byte for byte.
import { describe, expect, it } from 'vitest';
import { RespEncoder, RespError, RespReader, encodeCommand } from '../../sinks/redis/resp.ts';

describe('RESP encoding', () => {
  it('length prefixes count UTF-8 bytes, for ASCII, two-, three- and four-byte characters', () => {
    expect(encodeCommand(['hset', 'k', 'f', 'é'.repeat(3)]).toString('latin1')).toBe(
      '*4\r\n$4\r\nhset\r\n$1\r\nk\r\n$1\r\nf\r\n$6\r\n\xc3\xa9\xc3\xa9\xc3\xa9\r\n',
    );
    expect(encodeCommand(['set', '€', '😀']).toString('hex')).toBe(
      Buffer.from('*3\r\n$3\r\nset\r\n$3\r\n').toString('hex') + 'e282ac' + Buffer.from('\r\n$4\r\n').toString('hex') + 'f09f9880' + '0d0a',
    );
  });

  it('numbers as JavaScript prints them, a non-finite one as null, and a lone surrogate as U+FFFD', () => {
    expect(encodeCommand(['zadd', 'z', 1.5, -0, 1e21, Number.NaN]).toString()).toBe(
      '*6\r\n$4\r\nzadd\r\n$1\r\nz\r\n$3\r\n1.5\r\n$1\r\n0\r\n$5\r\n1e+21\r\n$4\r\nnull\r\n',
    );
    expect(encodeCommand(['set', 'k', 'a\ud800b']).toString('hex')).toBe(
      Buffer.from('*3\r\n$3\r\nset\r\n$1\r\nk\r\n$5\r\n').toString('hex') + '61efbfbd62' + '0d0a',
    );
  });

  it('an empty argument, a long one, and many commands in one buffer that grows', () => {
    const encoder = new RespEncoder(16);
    const long = 'x'.repeat(5000);
    encoder.push(['set', '', long]);
    encoder.push(['del', 'a', 'ü']);
    expect(encoder.count).toBe(2);
    const bytes = encoder.take();
    expect(bytes.toString('utf8')).toBe(`*3\r\n$3\r\nset\r\n$0\r\n\r\n$5000\r\n${long}\r\n*3\r\n$3\r\ndel\r\n$1\r\na\r\n$2\r\nü\r\n`);
    expect(encoder.count).toBe(0);
    expect(encoder.take().length).toBe(0);
  });
});

describe('RESP script call arguments', () => {
  it('commands inside a script call: each its argument count as a bulk string, then its arguments; no array headers', () => {
    const encoder = new RespEncoder(16);
    encoder.pushArgs(['evalsha', 'abc', 1, 'k', 7]);
    encoder.pushCounted(['hset', 'h', 'f', 'é']);
    encoder.pushCounted(['del', 'x']);
    expect(encoder.count).toBe(2);
    expect(encoder.args).toBe(5 + 5 + 3);
    expect(encoder.take().toString('utf8')).toBe(
      '$7\r\nevalsha\r\n$3\r\nabc\r\n$1\r\n1\r\n$1\r\nk\r\n$1\r\n7\r\n' +
        '$1\r\n4\r\n$4\r\nhset\r\n$1\r\nh\r\n$1\r\nf\r\n$2\r\né\r\n' +
        '$1\r\n2\r\n$3\r\ndel\r\n$1\r\nx\r\n',
    );
    expect(encoder.args).toBe(0);
  });
});

describe('RESP replies', () => {
  const all = Buffer.from(
    '+OK\r\n-WRONGTYPE Operation against a key\r\n:42\r\n:-7\r\n$5\r\nhé\r\n\r\n$-1\r\n*2\r\n:1\r\n*1\r\n$0\r\n\r\n*-1\r\n*0\r\n',
    'utf8',
  );
  const expected = ['OK', new RespError('WRONGTYPE Operation against a key'), 42, -7, 'hé\r\n', null, [1, ['']], null, []];

  it('reads every type, in order', () => {
    expect(new RespReader().feed(all)).toEqual(expected);
  });

  it('gives the same replies whatever bytes the chunks end at', () => {
    for (let cut = 1; cut < all.length; cut++) {
      for (const step of [1, 3, 7]) {
        const reader = new RespReader();
        const got = [...reader.feed(all.subarray(0, cut))];
        for (let at = cut; at < all.length; at += step) got.push(...reader.feed(all.subarray(at, Math.min(all.length, at + step))));
        expect(got).toEqual(expected);
      }
    }
  });

  it('a reply type the protocol does not have is an error', () => {
    expect(() => new RespReader().feed(Buffer.from('?what\r\n'))).toThrow(/unexpected reply type/);
  });
});
