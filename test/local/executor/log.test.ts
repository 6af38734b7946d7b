import { describe, expect, it } from 'vitest';
import { LineSplitter, SecretMasker, containerTimestamp } from '../../../src/local/executor/log.js';

describe('LineSplitter', () => {
  it('passes on whole lines, keeps a partial one until flushed, and cuts overlong lines', () => {
    // GIVEN a splitter with a short maximum line length
    const lines: string[] = [];
    const splitter = new LineSplitter((line) => lines.push(line), 8);
    // WHEN chunks arrive split anywhere, with CRLF, and a line longer than the maximum
    splitter.push('hel');
    splitter.push('lo\r\nwor');
    splitter.push('ld\n0123456789abcdefXY');
    splitter.flush();
    // THEN lines come whole, without CR, and the long one in pieces
    expect(lines).toEqual(['hello', 'world', '01234567', '89abcdef', 'XY']);
  });
});

describe('SecretMasker', () => {
  it('masks every value, the longest first, and each line of a multi-line value', () => {
    // GIVEN secrets, one containing another, and a multi-line key
    const masker = new SecretMasker();
    masker.add('abc');
    masker.add('abcdef');
    masker.add('-----BEGIN KEY-----\nMIIEsecretline\n-----END KEY-----');
    masker.add('x');
    // WHEN text holding them is masked / THEN no value is left, and a one-letter value is not masked
    expect(masker.mask('abcdef abc MIIEsecretline x')).toBe('*** *** *** x');
  });
});

describe('containerTimestamp', () => {
  it("writes CodeBuild's date format in UTC", () => {
    // GIVEN an instant / WHEN formatted / THEN it reads as CodeBuild's
    expect(containerTimestamp(Date.UTC(2024, 4, 1, 10, 2, 3, 45))).toBe('2024/05/01 10:02:03.045000');
  });
});
