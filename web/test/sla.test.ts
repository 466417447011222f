// Tests of web/src/sla.ts: business durations in words, reading typed targets, a week in a line.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { businessDuration, durationInput, parseDuration, remainingText, weekSummary } from '../src/sla';

describe('business durations', () => {
  test('minutes and hours, never days', () => {
    assert.equal(businessDuration(0), '0 min');
    assert.equal(businessDuration(40), '40 min');
    assert.equal(businessDuration(60), '1 h');
    assert.equal(businessDuration(135), '2 h 15 min');
    assert.equal(businessDuration(60 * 30 + 1), '30 h 1 min');
  });

  test('what is left of a clock', () => {
    assert.equal(remainingText(135), '2 h 15 min left');
    assert.equal(remainingText(0), 'due now');
    assert.equal(remainingText(-40), 'overdue by 40 min');
    assert.equal(remainingText(-125), 'overdue by 2 h 5 min');
  });
});

describe('typed targets', () => {
  test('the spellings an admin may use', () => {
    assert.equal(parseDuration(''), null);
    assert.equal(parseDuration('  '), null);
    assert.equal(parseDuration('90'), 90);
    assert.equal(parseDuration('90m'), 90);
    assert.equal(parseDuration('90 min'), 90);
    assert.equal(parseDuration('4h'), 240);
    assert.equal(parseDuration('4 hours'), 240);
    assert.equal(parseDuration('1h 30m'), 90);
    assert.equal(parseDuration('1 h 30 min'), 90);
    assert.equal(parseDuration('1h30'), undefined, 'minutes need their unit after hours');
    assert.equal(parseDuration('1:30'), 90);
    assert.equal(parseDuration('1.5h'), 90);
    assert.equal(parseDuration('1,5 h'), 90);
    assert.equal(parseDuration('1.3h'), 78);
  });

  test('what is not a duration', () => {
    for (const bad of ['soon', 'h', 'm', '1:75', '-5', '1.01h', '2 d']) assert.equal(parseDuration(bad), undefined, bad);
  });

  test('stored targets read back as they parse', () => {
    for (const minutes of [1, 45, 60, 90, 480, 525600]) assert.equal(parseDuration(durationInput(minutes)), minutes);
    assert.equal(durationInput(null), '');
    assert.equal(durationInput(90), '1h 30m');
  });
});

describe('a week in a line', () => {
  const day = [{ start: '09:00', end: '17:00' }];
  test('consecutive days with the same hours are joined', () => {
    assert.equal(weekSummary({ monday: day, tuesday: day, wednesday: day, thursday: day, friday: day }), 'Mon–Fri 09:00–17:00');
  });
  test('different hours, split days and a gap', () => {
    const split = [
      { start: '09:00', end: '12:00' },
      { start: '13:00', end: '17:00' },
    ];
    assert.equal(
      weekSummary({ monday: split, tuesday: split, wednesday: day, friday: day, sunday: [{ start: '10:00', end: '14:00' }] }),
      'Mon–Tue 09:00–12:00, 13:00–17:00 · Wed 09:00–17:00 · Fri 09:00–17:00 · Sun 10:00–14:00',
    );
  });
  test('no hours', () => {
    assert.equal(weekSummary({}), 'closed all week');
  });
});
