import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

import { FieldErrorDto, PROBLEM_CONTENT_TYPE, ProblemDetailsDto } from './problem-details.dto';

/** Every error answer of every operation is a ProblemDetails; say so once, here. */
function describeProblemResponses(document: OpenAPIObject): OpenAPIObject {
  const problem = {
    [PROBLEM_CONTENT_TYPE]: { schema: { $ref: '#/components/schemas/ProblemDetailsDto' } },
  };
  for (const pathItem of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = pathItem[method];
      if (!operation) continue;
      operation.responses['500'] ??= { description: 'Unexpected error.' };
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400 && response && 'description' in response)
          response.content = problem;
      }
    }
  }
  return document;
}

/** Swagger UI at `/docs`, the JSON document at `/docs-json`. */
export function setupOpenApi(app: INestApplication, version: string): void {
  const config = new DocumentBuilder()
    .setTitle('Keel')
    .setDescription('Run LLM agents in production. Errors are application/problem+json (RFC 9457).')
    .setVersion(version)
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    extraModels: [ProblemDetailsDto, FieldErrorDto],
  });
  SwaggerModule.setup('docs', app, describeProblemResponses(document), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
}
