import { describe, expect, it } from 'vitest';
import { classifyBulkItem, classifyRequestStatus, foldResults } from '../../sinks/elasticsearch/index.ts';
import { redactUrlCredentials } from '../../core/redact/index.ts';

describe('elasticsearch bulk item classification', () => {
  it('treats 2xx and deleting a missing document as written', () => {
    expect(classifyBulkItem('index', { status: 201, result: 'created' })).toEqual({ status: 'ok' });
    expect(classifyBulkItem('delete', { status: 404, result: 'not_found' })).toEqual({ status: 'ok' });
  });

  it('retries 429, 5xx, version conflicts and transient error types', () => {
    const retry = (status: number, type: string) => classifyBulkItem('index', { status, error: { type, reason: 'r' } }).status;
    expect(retry(429, 'es_rejected_execution_exception')).toBe('retry');
    expect(retry(503, 'unavailable_shards_exception')).toBe('retry');
    expect(retry(409, 'version_conflict_engine_exception')).toBe('retry');
    expect(retry(403, 'cluster_block_exception')).toBe('retry');
  });

  it('rejects mapping conflicts and other 4xx with the reason and its cause', () => {
    const result = classifyBulkItem('index', {
      status: 400,
      error: {
        type: 'document_parsing_exception',
        reason: 'failed to parse field [rank] of type [integer]',
        caused_by: { type: 'number_format_exception', reason: 'For input string: "x"' },
      },
    });
    expect(result).toEqual({
      status: 'rejected',
      reason: '400 document_parsing_exception: failed to parse field [rank] of type [integer] (caused by number_format_exception: For input string: "x")',
    });
    expect(classifyBulkItem('update', { status: 404, error: { type: 'index_not_found_exception', reason: 'no such index' } }).status).toBe('rejected');
  });

  it('classifies whole-request failures', () => {
    expect(classifyRequestStatus(429, 'circuit_breaking_exception: too large').status).toBe('retry');
    expect(classifyRequestStatus(502, 'bad gateway').status).toBe('retry');
    expect(classifyRequestStatus(400, 'parse_exception: bad').status).toBe('rejected');
  });

  it('folds row results into the event result: any retry wins, then any rejection', () => {
    const ok = { status: 'ok' } as const;
    const rejected = { status: 'rejected', reason: 'a' } as const;
    const retry = { status: 'retry', reason: 'b' } as const;
    expect(foldResults([ok, ok])).toEqual(ok);
    expect(foldResults([ok, rejected])).toEqual(rejected);
    expect(foldResults([rejected, retry, ok])).toEqual(retry);
    expect(foldResults([])).toEqual(ok);
  });

  it('hides credentials in URLs', () => {
    expect(redactUrlCredentials('connect ECONNREFUSED https://elastic:s3cret@es.local:9200/')).toBe(
      'connect ECONNREFUSED https://elastic:[redacted]@es.local:9200/',
    );
    expect(redactUrlCredentials('redis://:s3cret@cache:6379')).toBe('redis://:[redacted]@cache:6379');
  });
});
