import bcrypt from 'bcryptjs';
import { afterEach, describe, expect, it } from 'vitest';
import { GOOD_LOGINS_CACHED, PasswordChecker } from '../../src/web/passwords.js';

let checker: PasswordChecker | undefined;
afterEach(async () => {
  await checker?.close();
  checker = undefined;
});

describe('PasswordChecker', () => {
  it('remembers good logins only: wrong passwords always cost a comparison and never push a good login out', async () => {
    checker = new PasswordChecker({ prometheus: bcrypt.hashSync('right', 4) });
    expect(await checker.check('prometheus', 'right')).toBe(true);
    expect(checker.comparisons).toBe(1);
    for (let i = 0; i < 200; i++) expect(await checker.check('prometheus', `wrong-${i}`)).toBe(false);
    expect(await checker.check('prometheus', 'wrong-0')).toBe(false);
    expect(checker.comparisons).toBe(202);
    expect(await checker.check('prometheus', 'right')).toBe(true);
    expect(checker.comparisons).toBe(202);
  });

  it(`keeps the ${GOOD_LOGINS_CACHED} most recently used good logins`, async () => {
    const users = Object.fromEntries(Array.from({ length: GOOD_LOGINS_CACHED + 1 }, (_, i) => [`u${i}`, bcrypt.hashSync(`p${i}`, 4)]));
    checker = new PasswordChecker(users);
    for (let i = 0; i <= GOOD_LOGINS_CACHED; i++) expect(await checker.check(`u${i}`, `p${i}`)).toBe(true);
    const n = checker.comparisons;
    // u0 was pushed out by the last one; u1 is still there.
    expect(await checker.check('u1', 'p1')).toBe(true);
    expect(checker.comparisons).toBe(n);
    expect(await checker.check('u0', 'p0')).toBe(true);
    expect(checker.comparisons).toBe(n + 1);
  });

  it('costs an unknown user a comparison and says no, even with a configured password', async () => {
    checker = new PasswordChecker({ prometheus: bcrypt.hashSync('right', 4) });
    expect(await checker.check('mallory', 'right')).toBe(false);
    expect(await checker.check('', 'right')).toBe(false);
    expect(checker.comparisons).toBe(2);
  });

  it('forgets a good login when its user is removed or given a new hash', async () => {
    checker = new PasswordChecker({ prometheus: bcrypt.hashSync('right', 4), other: bcrypt.hashSync('x', 4) });
    expect(await checker.check('prometheus', 'right')).toBe(true);
    checker.setUsers({ prometheus: bcrypt.hashSync('new', 4) });
    expect(await checker.check('prometheus', 'right')).toBe(false);
    expect(await checker.check('prometheus', 'new')).toBe(true);
    checker.setUsers({ other: bcrypt.hashSync('x', 4) });
    expect(await checker.check('prometheus', 'new')).toBe(false);
    checker.setUsers({});
    expect(checker.enabled).toBe(false);
  });

  it('answers in the order asked, one comparison at a time', async () => {
    checker = new PasswordChecker({ a: bcrypt.hashSync('a', 4) });
    const order: number[] = [];
    await Promise.all(Array.from({ length: 20 }, (_, i) => checker!.check('a', i % 2 ? 'a' : `no${i}`).then(() => order.push(i))));
    // Asked for together, before any was known good: each waits for its turn.
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(checker.comparisons).toBe(20);
  });
});
