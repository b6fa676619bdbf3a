import type { Mail } from '@mic/platform';
import type { OperatorLocale } from '@mic/contracts';

/** Account e-mails (password recovery, an instance's reset link) go through the platform's Mailer. */
export type AccountMail = Mail;

/** The "forgot password" e-mail, in the operator's language. */
export function passwordResetMail(
  locale: OperatorLocale,
  input: { to: string; name: string; link: string; validMinutes: number },
): AccountMail {
  const { to, name, link, validMinutes } = input;
  if (locale === 'en') {
    return {
      to,
      subject: 'Reset your MIC password',
      text: [
        `Hello ${name},`,
        '',
        `Someone (we hope you) asked to reset the password of your MIC operator account (${to}).`,
        '',
        `Open this link to choose a new one. It works once and expires in ${validMinutes} minutes:`,
        link,
        '',
        'If you did not ask for it, ignore this e-mail: your password stays as it is.',
        'Resetting the password signs you out everywhere; your second factor, if any, stays.',
      ].join('\n'),
    };
  }
  return {
    to,
    subject: 'Restablece tu contraseña de MIC',
    text: [
      `Hola, ${name}:`,
      '',
      `Alguien (esperamos que tú) ha pedido restablecer la contraseña de tu cuenta de operador de MIC (${to}).`,
      '',
      `Abre este enlace para elegir una nueva. Funciona una sola vez y caduca en ${validMinutes} minutos:`,
      link,
      '',
      'Si no lo has pedido, ignora este correo: tu contraseña no cambia.',
      'Restablecerla cierra todas tus sesiones; tu segundo factor, si lo tienes, se mantiene.',
    ].join('\n'),
  };
}

/** The invitation of a new operator: a link to choose their password. */
export function operatorInviteMail(
  locale: OperatorLocale,
  input: { to: string; name: string; invitedBy: string; link: string; expiresAt: Date },
): AccountMail {
  const { to, name, invitedBy, link, expiresAt } = input;
  const until = expiresAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  if (locale === 'en') {
    return {
      to,
      subject: 'Your MIC operator account',
      text: [
        `Hello ${name},`,
        '',
        `${invitedBy} has created a MIC operator account for you (${to}).`,
        '',
        `Open this link to choose your password. It works once, until ${until}:`,
        link,
        '',
        'After that, ask for a new link with "Forgot your password?" on the sign-in page.',
      ].join('\n'),
    };
  }
  return {
    to,
    subject: 'Tu cuenta de operador de MIC',
    text: [
      `Hola, ${name}:`,
      '',
      `${invitedBy} te ha creado una cuenta de operador de MIC (${to}).`,
      '',
      `Abre este enlace para elegir tu contraseña. Funciona una sola vez, hasta el ${until}:`,
      link,
      '',
      'Pasado ese plazo, pide otro enlace con «¿Olvidaste tu contraseña?» en la página de acceso.',
    ].join('\n'),
  };
}

/** An instance's password reset link, for the tenant's admin contact. */
export function instancePasswordResetMail(
  locale: OperatorLocale,
  input: { to: string; instanceName: string; username: string | null; link: string; expiresAt: Date },
): AccountMail {
  const { to, instanceName, username, link, expiresAt } = input;
  const until = expiresAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  if (locale === 'en') {
    return {
      to,
      subject: `Password reset for ${instanceName}`,
      text: [
        'Hello,',
        '',
        `The MIC team has started a password reset for ${username ? `the user ${username}` : 'the administrator'} of ${instanceName}.`,
        '',
        `Open this link to choose a new password. It works once, until ${until}:`,
        link,
        '',
        'If you did not expect it, tell us: nothing changes until the link is used.',
      ].join('\n'),
    };
  }
  return {
    to,
    subject: `Restablecimiento de contraseña de ${instanceName}`,
    text: [
      'Hola:',
      '',
      `El equipo de MIC ha iniciado el restablecimiento de la contraseña de ${username ? `el usuario ${username}` : 'la cuenta de administración'} de ${instanceName}.`,
      '',
      `Abre este enlace para elegir una contraseña nueva. Funciona una sola vez, hasta el ${until}:`,
      link,
      '',
      'Si no lo esperabas, avísanos: nada cambia mientras no se use el enlace.',
    ].join('\n'),
  };
}
