// Page entry: registers the Lit components; <mm-app> in index.html then starts the engine worker. Also sets
// up offline support (service worker + offline state, src/offline.ts).
import './ui/app';
import { setUpOffline } from './offline';

setUpOffline();
