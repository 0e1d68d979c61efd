import type { ArgumentMetadata } from '@nestjs/common';
import { ValidationPipe } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';

import type { FieldErrorDto } from './problem-details.dto';
import { RequestValidationError } from './request-validation.error';

/**
 * How deep the pipe looks into a body or query. JSON bodies are already cut at
 * `JSON_MAX_DEPTH` while parsing; this bounds the walk on its own, for any other source.
 */
export const MAX_VALIDATION_DEPTH = 256;

/**
 * Keys the pipe's helpers drop without a word: Nest's ValidationPipe deletes `__proto__`,
 * `prototype` and `constructor`; class-transformer skips any key that names a method on the
 * prototype; class-validator's whitelist reads its metadata map by key, so an inherited name
 * (`toString`, `valueOf`...) looks declared. None is a field of any DTO.
 */
const SILENTLY_DROPPED: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
]);

/**
 * The global pipe: whitelisting (unknown properties answer 400), transformation to DTO
 * classes, and a body that must be a JSON object when a DTO describes it.
 *
 * Unknown keys are refused before class-transformer runs: at the top level every key the
 * DTO does not declare, whatever its name, and at any depth the names the helpers above
 * would drop silently (class-validator's whitelist catches the other nested ones).
 */
export class AppValidationPipe extends ValidationPipe {
  private readonly declared = new WeakMap<object, ReadonlySet<string>>();

  constructor() {
    super({
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      transform: true,
      validationError: { target: false, value: false },
      exceptionFactory: (errors) => RequestValidationError.fromValidationErrors(errors),
    });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const { metatype, type } = metadata;
    const isDto = (type === 'body' || type === 'query') && metatype && this.toValidate(metadata);
    if (!isDto) return super.transform(value, metadata);
    if (type === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      throw new RequestValidationError([
        { field: '(body)', messages: ['the request body must be a JSON object'] },
      ]);
    }
    if (value !== null && typeof value === 'object') {
      const errors = this.unknownKeys(value as Record<string, unknown>, this.declaredBy(metatype));
      if (errors.length > 0) throw new RequestValidationError(errors);
    }
    return super.transform(value, metadata);
  }

  /** The properties a DTO class declares: those with at least one class-validator decorator. */
  private declaredBy(metatype: object): ReadonlySet<string> {
    let names = this.declared.get(metatype);
    if (!names) {
      const target = metatype as new (...args: unknown[]) => unknown;
      const metadatas = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
      names = new Set(metadatas.map((m) => m.propertyName));
      this.declared.set(metatype, names);
    }
    return names;
  }

  /** The top level against the DTO's declared names, then every level for dropped names. */
  private unknownKeys(
    value: Record<string, unknown>,
    declared: ReadonlySet<string>,
  ): FieldErrorDto[] {
    const errors: FieldErrorDto[] = [];
    for (const key of Object.keys(value)) {
      if (!declared.has(key)) errors.push(unknownProperty(key, key));
    }
    // An explicit stack: a hostile body must not be able to overflow the call stack.
    const stack: { node: unknown; path: string; depth: number }[] = [];
    for (const key of Object.keys(value)) {
      if (declared.has(key)) stack.push({ node: value[key], path: key, depth: 1 });
    }
    while (stack.length > 0) {
      const { node, path, depth } = stack.pop()!;
      if (node === null || typeof node !== 'object') continue;
      if (depth >= MAX_VALIDATION_DEPTH) {
        errors.push({
          field: path,
          messages: [`nested deeper than ${MAX_VALIDATION_DEPTH} levels`],
        });
        break;
      }
      const entries = Array.isArray(node) ? node.entries() : Object.entries(node);
      for (const [key, child] of entries) {
        const childPath = `${path}.${key}`;
        if (typeof key === 'string' && SILENTLY_DROPPED.has(key)) {
          errors.push(unknownProperty(childPath, key));
        } else {
          stack.push({ node: child, path: childPath, depth: depth + 1 });
        }
      }
    }
    return errors;
  }
}

/** class-validator's own whitelist message, so both checks read alike. */
function unknownProperty(field: string, key: string): FieldErrorDto {
  return { field, messages: [`property ${key} should not exist`] };
}
