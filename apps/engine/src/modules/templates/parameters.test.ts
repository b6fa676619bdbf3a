import { describe, expect, it } from 'vitest';
import { seededTemplates } from '@mic/meta-sandbox';
import { parameterCounts, parameterErrors } from './parameters.ts';

const components = (name: string) => seededTemplates().find((t) => t.name === name)!.components;

describe('parameterCounts', () => {
  it('reads what each part of a template takes from Meta’s components', () => {
    expect(parameterCounts(components('hello_world'))).toEqual({ header: 0, body: 0, buttons: [] });
    expect(parameterCounts(components('order_update'))).toEqual({ header: 0, body: 2, buttons: [] });
    expect(parameterCounts(components('spring_sale'))).toEqual({
      header: 1,
      body: 1,
      buttons: [{ index: 0, type: 'URL', parameters: 1 }],
    });
  });

  it('counts a media header as one parameter, named placeholders once each, and copy-code buttons', () => {
    expect(
      parameterCounts([
        { type: 'HEADER', format: 'IMAGE' },
        { type: 'BODY', text: 'Hi {{first_name}}, {{first_name}}: your code {{code}}' },
        {
          type: 'BUTTONS',
          buttons: [
            { type: 'QUICK_REPLY', text: 'Stop' },
            { type: 'COPY_CODE', example: 'X' },
          ],
        },
      ]),
    ).toEqual({ header: 1, body: 2, buttons: [{ index: 1, type: 'COPY_CODE', parameters: 1 }] });
  });
});

describe('parameterErrors', () => {
  const spring = parameterCounts(components('spring_sale'));
  const text = (value: string) => ({ type: 'text' as const, text: value });

  it('accepts a send that gives every part its parameters', () => {
    expect(
      parameterErrors(
        spring,
        [
          { type: 'header', parameters: [text('Ana')] },
          { type: 'body', parameters: [text('20 %')] },
          { type: 'button', subType: 'url', index: 0, parameters: [text('spring')] },
        ],
        'message.template.components',
      ),
    ).toEqual([]);
  });

  it('names the part with the wrong count and each missing part', () => {
    expect(
      parameterErrors(spring, [{ type: 'body', parameters: [text('a'), text('b')] }], 'recipients[3].components'),
    ).toEqual([
      { field: 'recipients[3].components[0].parameters', message: "the template's body takes 1 parameter (2 given)" },
      { field: 'recipients[3].components', message: "the template's header takes 1 parameter: add a header component" },
      {
        field: 'recipients[3].components',
        message: "the template's button 0 (URL) takes a parameter: add a button component with index 0",
      },
    ]);
  });

  it('refuses parameters for a button that takes none, but lets a quick reply carry a payload', () => {
    const counts = parameterCounts(components('hello_world'));
    expect(
      parameterErrors(
        counts,
        [{ type: 'button', subType: 'url', index: 2, parameters: [text('x')] }],
        'message.template.components',
      ),
    ).toEqual([
      { field: 'message.template.components[0].index', message: "the template's button 2 takes no parameter" },
    ]);
    expect(
      parameterErrors(
        counts,
        [{ type: 'button', subType: 'quick_reply', index: 0, parameters: [{ type: 'payload', payload: 'STOP' }] }],
        'message.template.components',
      ),
    ).toEqual([]);
  });
});
